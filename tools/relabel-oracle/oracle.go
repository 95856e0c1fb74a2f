// Go's regexp (the engine Prometheus relabelling runs on) as the oracle for hakari's pcre2
// translation: for each case it prints E (does not compile), N (no match) or M <hex expansion>,
// with the regex anchored as Prometheus anchors it: ^(?s:re)$.
package main

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"os"
	"regexp"
	"strings"
)

func unhex(s string) string {
	if s == "-" {
		return ""
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for in.Scan() {
		f := strings.Fields(in.Text())
		re, err := regexp.Compile("^(?s:" + unhex(f[0]) + ")$")
		if err != nil {
			fmt.Fprintf(out, "%s %s %s E\n", f[0], f[1], f[2])
			continue
		}
		v := unhex(f[1])
		idx := re.FindStringSubmatchIndex(v)
		if idx == nil {
			fmt.Fprintf(out, "%s %s %s N\n", f[0], f[1], f[2])
			continue
		}
		res := re.ExpandString(nil, unhex(f[2]), v, idx)
		fmt.Fprintf(out, "%s %s %s M%s\n", f[0], f[1], f[2], hex.EncodeToString(res))
	}
}
