// Package safefs reads and writes the files of a source tree without
// following symbolic links: every file it opens must be a regular file
// reached by its own name, and every file it writes is created fresh and
// renamed into place, so a link or a special file planted where an
// output belongs is refused instead of written through.
//
// [ReadRegular] is the bounded reader for paths an operator names on a
// command line, where links are the operator's choice.
//
// It is for build-side readers and writers (sign, keygen, the generator,
// target BTF); it uses only the standard library and x/sys.
package safefs

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Errors of the checks; each is wrapped with the path it concerns.
var (
	// ErrSymlink: a path is a symbolic link (dangling or not).
	ErrSymlink = errors.New("is a symbolic link; refusing to follow it (replace it with the file itself)")
	// ErrNotRegular: a path is a directory, FIFO, socket or device.
	ErrNotRegular = errors.New("is not a regular file")
	// ErrTooLarge: a file is larger than the caller reads.
	ErrTooLarge = errors.New("too large")
)

// Dir is an open directory: names are resolved relative to it, one
// component at a time, so the directory cannot be swapped for another
// between two operations.
type Dir struct {
	fd   int
	path string
}

// OpenDir opens a directory chosen by the caller (links in path itself
// are followed: they are the operator's choice, not the tree's).
func OpenDir(path string) (*Dir, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	return &Dir{fd: fd, path: path}, nil
}

// Path is the directory's path as opened.
func (d *Dir) Path() string { return d.path }

// Close closes the directory.
func (d *Dir) Close() error { return unix.Close(d.fd) }

// Sub opens the directory rel below d, refusing symbolic links in any of
// its components.
func (d *Dir) Sub(rel string) (*Dir, error) {
	rel = filepath.Clean(rel)
	if filepath.IsAbs(rel) || rel == ".." || strings.HasPrefix(rel, "../") {
		return nil, fmt.Errorf("%s: not below %s", rel, d.path)
	}
	fd, err := unix.Dup(d.fd)
	if err != nil {
		return nil, err
	}
	path := d.path
	if rel != "." {
		for _, c := range strings.Split(rel, "/") {
			path = filepath.Join(path, c)
			next, err := unix.Openat(fd, c, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			if err != nil {
				err = pathErr(fd, path, c, err)
				unix.Close(fd)
				return nil, err
			}
			unix.Close(fd)
			fd = next
		}
	}
	return &Dir{fd: fd, path: path}, nil
}

// pathErr explains a failed open: a link or a non-directory is named as
// such.
func pathErr(dirfd int, path, name string, err error) error {
	if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) {
		var st unix.Stat_t
		if unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
			return fmt.Errorf("%s %w", path, ErrSymlink)
		}
	}
	return &fs.PathError{Op: "open", Path: path, Err: err}
}

// checkName refuses names that are not one plain component.
func checkName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsRune(name, '/') || strings.ContainsRune(name, 0) {
		return fmt.Errorf("%q is not a file name", name)
	}
	return nil
}

// Lstat describes name without following it. A missing file gives an
// error wrapping [fs.ErrNotExist].
func (d *Dir) Lstat(name string) (uint32, error) {
	if err := checkName(name); err != nil {
		return 0, err
	}
	var st unix.Stat_t
	if err := unix.Fstatat(d.fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return 0, &fs.PathError{Op: "lstat", Path: filepath.Join(d.path, name), Err: err}
	}
	return st.Mode & unix.S_IFMT, nil
}

// kindErr is the error for a file of the wrong kind, or nil for a regular
// file.
func kindErr(path string, mode uint32) error {
	switch mode {
	case unix.S_IFREG:
		return nil
	case unix.S_IFLNK:
		return fmt.Errorf("%s %w", path, ErrSymlink)
	case unix.S_IFDIR:
		return fmt.Errorf("%s %w: it is a directory", path, ErrNotRegular)
	default:
		return fmt.Errorf("%s %w", path, ErrNotRegular)
	}
}

// ReadFile reads the regular file name in d, at most max bytes. Symbolic
// links (dangling or not), directories, FIFOs, sockets and devices are
// refused without being opened for reading; a missing file gives an error
// wrapping [fs.ErrNotExist].
func (d *Dir) ReadFile(name string, max int64) ([]byte, error) {
	path := filepath.Join(d.path, name)
	mode, err := d.Lstat(name)
	if err != nil {
		return nil, err
	}
	if err := kindErr(path, mode); err != nil {
		return nil, err
	}
	// O_NOFOLLOW and O_NONBLOCK: a link or a FIFO swapped in since the
	// check neither redirects nor blocks the open; fstat then checks the
	// file actually opened.
	fd, err := unix.Openat(d.fd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, pathErr(d.fd, path, name, err)
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, err
	}
	if err := kindErr(path, st.Mode&unix.S_IFMT); err != nil {
		return nil, err
	}
	return readBounded(f, path, st.Size, max)
}

// WriteFile replaces name in d with data: it refuses when name exists and
// is not a regular file, writes a new file (O_EXCL, O_NOFOLLOW, mode perm
// less the umask) next to it, syncs it and renames it over name. Readers
// see the old contents or the new, never a mix, and nothing is written
// through a link.
func (d *Dir) WriteFile(name string, data []byte, perm os.FileMode) error {
	path := filepath.Join(d.path, name)
	mode, err := d.Lstat(name)
	switch {
	case err == nil:
		if err := kindErr(path, mode); err != nil {
			return err
		}
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	tmp, err := d.createTemp(name, perm)
	if err != nil {
		return err
	}
	if err := writeSync(tmp, data); err != nil {
		unix.Unlinkat(d.fd, filepath.Base(tmp.Name()), 0)
		return err
	}
	if err := unix.Renameat(d.fd, filepath.Base(tmp.Name()), d.fd, name); err != nil {
		unix.Unlinkat(d.fd, filepath.Base(tmp.Name()), 0)
		return &fs.PathError{Op: "rename", Path: path, Err: err}
	}
	return nil
}

// createTemp creates a new, empty file named after name in d.
func (d *Dir) createTemp(name string, perm os.FileMode) (*os.File, error) {
	for range 16 {
		var r [8]byte
		rand.Read(r[:])
		tmp := "." + name + ".tmp-" + hex.EncodeToString(r[:])
		fd, err := unix.Openat(d.fd, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, uint32(perm.Perm()))
		if errors.Is(err, unix.EEXIST) {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "create", Path: filepath.Join(d.path, tmp), Err: err}
		}
		return os.NewFile(uintptr(fd), filepath.Join(d.path, tmp)), nil
	}
	return nil, fmt.Errorf("%s: no free temporary name", filepath.Join(d.path, name))
}

func writeSync(f *os.File, data []byte) error {
	_, err := f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// CreateExclusive creates name in d with data and mode perm (less the
// umask). It fails with an error wrapping [fs.ErrExist] when anything,
// a link included, already has that name: the file written is always one
// this call created.
func (d *Dir) CreateExclusive(name string, data []byte, perm os.FileMode) error {
	if err := checkName(name); err != nil {
		return err
	}
	path := filepath.Join(d.path, name)
	fd, err := unix.Openat(d.fd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, uint32(perm.Perm()))
	if err != nil {
		return &fs.PathError{Op: "create", Path: path, Err: err}
	}
	if err := writeSync(os.NewFile(uintptr(fd), path), data); err != nil {
		unix.Unlinkat(d.fd, name, 0)
		return err
	}
	return nil
}

// Remove removes name from d (not what it may point to).
func (d *Dir) Remove(name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	return unix.Unlinkat(d.fd, name, 0)
}

// ReadRegular reads the file at path, at most max bytes, following links
// (the operator named it) but refusing anything that is not a regular file
// once opened: a FIFO or a device could block or never end. Larger files
// give an error wrapping [ErrTooLarge] that names the path.
func ReadRegular(path string, max int64) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s %w (%s)", path, ErrNotRegular, st.Mode().Type())
	}
	return readBounded(f, path, st.Size(), max)
}

// readBounded reads f, whose size was size, refusing more than max bytes.
func readBounded(f *os.File, path string, size, max int64) ([]byte, error) {
	if size > max {
		return nil, fmt.Errorf("%s: %w: %d bytes, more than the %d read", path, ErrTooLarge, size, max)
	}
	// Room for the size Stat gave and a read more (which sees the end,
	// or that the file grew): one allocation, where io.ReadAll would
	// grow its buffer from 512 bytes, copying it every time.
	buf := bytes.NewBuffer(make([]byte, 0, size+bytes.MinRead))
	if _, err := buf.ReadFrom(io.LimitReader(f, max+1)); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s: %w: grew past %d bytes while read", path, ErrTooLarge, max)
	}
	return b, nil
}

// ReadFile reads the regular file at path, at most max bytes, refusing a
// symbolic link or special file in its last component (see
// [Dir.ReadFile]).
func ReadFile(path string, max int64) ([]byte, error) {
	d, err := OpenDir(filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return d.ReadFile(filepath.Base(path), max)
}

// WriteFile replaces the file at path through a temporary file and a
// rename (see [Dir.WriteFile]).
func WriteFile(path string, data []byte, perm os.FileMode) error {
	d, err := OpenDir(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.WriteFile(filepath.Base(path), data, perm)
}
