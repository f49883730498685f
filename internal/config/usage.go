package config

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// WriteVars writes vars (Vars, with the defaults of the settings other
// packages own filled in) to w as an aligned table: name, default, meaning.
func WriteVars(w io.Writer, vars []Var) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, v := range vars {
		def := v.Default
		if def == "" {
			def = "-"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", v.Name, def, v.Meaning)
	}
	return tw.Flush()
}
