// Package web holds the browser apps (TypeScript, built with Vite into
// dist/): the crisis room, served at /crisis/, and the console
// (dist/console/index.html), served at /console/; it embeds the build in
// the rempart binary.
//
// dist/ is committed with only a .gitkeep so that `go build` works on a clean
// clone before any npm build; such a binary serves an empty app (Assets then
// has no index.html). `make build` runs the web build first.
package web

import (
	"embed"
	"io/fs"
)

//go:embed all:dist
var dist embed.FS

// Assets returns the built app: the contents of web/dist (index.html and
// assets/), rooted at the folder itself.
func Assets() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		// fs.Sub fails only on an invalid path; "dist" is a constant.
		panic(err)
	}
	return sub
}
