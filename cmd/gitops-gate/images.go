package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/gitops-gate/gitops-gate/manifests"
)

func newImagesCmd() *cobra.Command {
	var rf repoFlags
	var output string
	cmd := &cobra.Command{
		Use:   "images DIR",
		Short: "List every container image the apps in DIR would run, with where it is written",
		Long: `Images discovers and renders the apps of the repository in DIR and lists every
image reference with its app, file and line, resource and field path. With -o json
it prints the documented shape of docs/output.md. The exit code is 1 when an app
could not be rendered or an image field is empty or not a string.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "table" && output != "json" {
				return &exitError{exitUsage, fmt.Errorf("-o %q: want table or json", output)}
			}
			repo, err := rf.open(args[0])
			defer rf.close()
			if err != nil {
				return err
			}
			inv, _, err := repo.Scan(cmd.Context(), manifests.ScanOptions{App: rf.app})
			if err != nil {
				return scanError(err)
			}
			if output == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				if err := enc.Encode(inv); err != nil {
					return &exitError{exitOperational, err}
				}
			} else if err := writeImagesTable(cmd.OutOrStdout(), inv); err != nil {
				return &exitError{exitOperational, err}
			}
			if n := problems(inv); n > 0 {
				return &exitError{exitDenied, fmt.Errorf("%d problem(s): the image list is incomplete or has unusable values", n)}
			}
			return nil
		},
	}
	rf.register(cmd)
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	return cmd
}

func problems(inv *manifests.Inventory) int {
	n := 0
	for _, a := range inv.Apps {
		if a.Error != "" {
			n++
		}
		for _, im := range a.Images {
			if im.Error != "" {
				n++
			}
		}
	}
	return n
}

func writeImagesTable(w io.Writer, inv *manifests.Inventory) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "APP\tIMAGE\tLOCATION\tRESOURCE\tFIELD")
	images, failed := 0, 0
	for _, a := range inv.Apps {
		for _, im := range a.Images {
			images++
			loc := im.File
			if im.Line > 0 {
				loc += ":" + strconv.Itoa(im.Line)
			}
			image := im.Image
			if im.Error != "" {
				image = fmt.Sprintf("%q (%s)", im.Image, im.Error)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s/%s\t%s\n", a.Name, image, loc, im.Resource.Kind, im.Resource.Name, im.FieldPath)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var empty []string
	for _, a := range inv.Apps {
		if a.Error == "" && len(a.Images) == 0 {
			empty = append(empty, a.Name)
		}
	}
	if len(empty) > 0 {
		fmt.Fprintf(w, "\nApps that run no images: %s\n", strings.Join(empty, ", "))
	}
	for _, a := range inv.Apps {
		if a.Error == "" {
			continue
		}
		if failed == 0 {
			fmt.Fprintln(w, "\nApps that could not be rendered (their images are not listed):")
		}
		failed++
		fmt.Fprintf(w, "  %s (%s): %s\n", a.Name, a.Path, strings.ReplaceAll(a.Error, "\n", "\n    "))
	}
	warned := false
	for _, a := range inv.Apps {
		for _, wn := range a.Warnings {
			if !warned {
				fmt.Fprintln(w, "\nWarnings (image fields the gate does not judge; check --strict fails them):")
				warned = true
			}
			loc := wn.File
			if wn.Line > 0 {
				loc = fmt.Sprintf("%s:%d", wn.File, wn.Line)
			}
			fmt.Fprintf(w, "  WARNING %s %s %s: %s\n", a.Name, wn.Image, loc, wn.Message)
		}
	}
	_, err := fmt.Fprintf(w, "\n%d images in %d apps, %d apps failed to render\n", images, len(inv.Apps), failed)
	return err
}
