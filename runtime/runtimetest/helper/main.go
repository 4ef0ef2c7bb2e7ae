// Command helper is the process the runtime contract suite runs in Docker
// containers: its behaviour is fixed so that the suite can assert exit codes,
// logs and exec output exactly (see runtimetest.HelperImage).
//
//	helper                  print HelperLog, serve HTTP on :8080, exit 3 on SIGTERM
//	helper exec CODE WORD…  print the words and a line on stderr, exit CODE
package main

import (
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "exec" {
		code := 0
		if len(os.Args) > 2 {
			code, _ = strconv.Atoi(os.Args[2])
		}
		words := []string{}
		if len(os.Args) > 3 {
			words = os.Args[3:]
		}
		fmt.Println(strings.Join(words, " "))
		fmt.Fprintln(os.Stderr, "exec stderr")
		os.Exit(code)
	}

	// Only SIGTERM is handled: the suite relies on every other signal but
	// SIGKILL being ignored, as it is by default in a Go program.
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM)

	host, _ := os.Hostname()
	http.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "helper in %s\n", host)
	})
	go func() {
		if err := http.ListenAndServe(":8080", nil); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}()
	fmt.Println("helper started")
	fmt.Fprintln(os.Stderr, "helper stderr")
	<-stop
	os.Exit(3)
}
