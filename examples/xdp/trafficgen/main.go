// Command trafficgen sends and answers the test traffic of the xdp-filter
// demo, inside network namespaces the demo creates.
//
//	trafficgen serve -tcp 8080,9090 -udp 6000,5353
//	trafficgen probe -host 169.254.77.2 -tcp 8080,9090 -udp 6000,5353 [-timeout 1s]
//
// serve accepts TCP connections and echoes UDP datagrams on the given
// ports. probe connects to each TCP port and sends one datagram to each UDP
// port, and prints one line per port: "tcp 8080 answered" or
// "tcp 9090 no answer". Its exit status is 0 whatever the answers.
package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: trafficgen serve|probe [flags]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	host := fs.String("host", "", "server address (probe)")
	tcp := fs.String("tcp", "", "comma-separated TCP ports")
	udp := fs.String("udp", "", "comma-separated UDP ports")
	timeout := fs.Duration("timeout", time.Second, "how long to wait for an answer (probe)")
	fs.Parse(os.Args[2:])
	tcpPorts, err1 := ports(*tcp)
	udpPorts, err2 := ports(*udp)
	if err := errors.Join(err1, err2); err != nil {
		fmt.Fprintln(os.Stderr, "trafficgen:", err)
		os.Exit(2)
	}
	switch os.Args[1] {
	case "serve":
		if err := serve(tcpPorts, udpPorts); err != nil {
			fmt.Fprintln(os.Stderr, "trafficgen:", err)
			os.Exit(1)
		}
	case "probe":
		probe(*host, tcpPorts, udpPorts, *timeout)
	default:
		fmt.Fprintln(os.Stderr, "usage: trafficgen serve|probe [flags]")
		os.Exit(2)
	}
}

func ports(list string) ([]int, error) {
	var out []int
	for _, p := range strings.Split(list, ",") {
		if p == "" {
			continue
		}
		n, err := strconv.Atoi(p)
		if err != nil || n <= 0 || n > 65535 {
			return nil, fmt.Errorf("bad port %q", p)
		}
		out = append(out, n)
	}
	return out, nil
}

func serve(tcpPorts, udpPorts []int) error {
	for _, p := range tcpPorts {
		l, err := net.Listen("tcp", fmt.Sprintf(":%d", p))
		if err != nil {
			return err
		}
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
	}
	for _, p := range udpPorts {
		c, err := net.ListenPacket("udp", fmt.Sprintf(":%d", p))
		if err != nil {
			return err
		}
		go func() {
			buf := make([]byte, 1500)
			for {
				n, addr, err := c.ReadFrom(buf)
				if err != nil {
					return
				}
				c.WriteTo(buf[:n], addr)
			}
		}()
	}
	fmt.Println("serving")
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	return nil
}

func probe(host string, tcpPorts, udpPorts []int, timeout time.Duration) {
	for _, p := range tcpPorts {
		addr := net.JoinHostPort(host, strconv.Itoa(p))
		c, err := net.DialTimeout("tcp", addr, timeout)
		if err == nil {
			c.Close()
			fmt.Printf("tcp %d answered\n", p)
		} else {
			fmt.Printf("tcp %d no answer\n", p)
		}
	}
	for _, p := range udpPorts {
		addr := net.JoinHostPort(host, strconv.Itoa(p))
		answered := false
		if c, err := net.Dial("udp", addr); err == nil {
			c.SetDeadline(time.Now().Add(timeout))
			buf := make([]byte, 64)
			if _, err := c.Write([]byte("trafficgen")); err == nil {
				_, err = c.Read(buf)
				answered = err == nil
			}
			c.Close()
		}
		if answered {
			fmt.Printf("udp %d answered\n", p)
		} else {
			fmt.Printf("udp %d no answer\n", p)
		}
	}
}
