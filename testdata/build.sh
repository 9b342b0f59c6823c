#!/usr/bin/env bash
# Rebuilds the little-endian BPF objects in this directory from their C sources.
#
# Usage: ./build.sh [OUTPUT_DIR]
#
# OUTPUT_DIR defaults to this directory. The compiler and strip tool can be
# overridden with the CLANG and STRIP environment variables. The output is
# byte-for-byte reproducible: sources are passed by relative name and the
# debug compilation dir is set to "." so no absolute paths end up in the BTF
# line info, and DWARF is stripped (BTF is kept), as bpf2go does.
set -euo pipefail

CLANG="${CLANG:-clang-19}"
STRIP="${STRIP:-llvm-strip-19}"

src_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out_dir="${1:-$src_dir}"
mkdir -p "$out_dir"
out_dir="$(cd "$out_dir" && pwd)"

cd "$src_dir"

shopt -s nullglob
sources=(*.c)
if [ "${#sources[@]}" -eq 0 ]; then
	echo "build.sh: no C sources in $src_dir" >&2
	exit 1
fi

for src in "${sources[@]}"; do
	name="${src%.c}"
	obj="$out_dir/${name}_bpfel.o"
	"$CLANG" -O2 -g -Wall -Werror -target bpfel -mcpu=v3 \
		-fdebug-compilation-dir=. \
		-I"/usr/include/$(uname -m)-linux-gnu" -I../include \
		-c "$src" -o "$obj"
	"$STRIP" -g "$obj"
	echo "built ${name}_bpfel.o"
done

# One big-endian object, to test that tools refuse it on little-endian hosts.
"$CLANG" -O2 -g -Wall -Werror -target bpfeb -mcpu=v3 \
	-fdebug-compilation-dir=. \
	-I"/usr/include/$(uname -m)-linux-gnu" -I../include \
	-c socket.c -o "$out_dir/socket_bpfeb.o"
"$STRIP" -g "$out_dir/socket_bpfeb.o"
echo "built socket_bpfeb.o"
