//go:build !bitnet_pkgconfig

package bitnet

// Default: the repository's headers and build folder (build/), with an rpath
// so that programs run in place (bitnet_version.h is generated into
// build/include/bitnet). CGO_CFLAGS / CGO_LDFLAGS come before these
// flags and so take precedence (point them at another build folder), and
// `-tags bitnet_pkgconfig` uses an installed library through pkg-config.

/*
#cgo CFLAGS: -I${SRCDIR}/../../include -I${SRCDIR}/../../build/include/bitnet
#cgo LDFLAGS: -L${SRCDIR}/../../build/lib -Wl,-rpath,${SRCDIR}/../../build/lib -lbitnet
*/
import "C"
