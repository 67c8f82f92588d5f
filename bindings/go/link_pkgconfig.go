//go:build bitnet_pkgconfig

package bitnet

// go build -tags bitnet_pkgconfig: flags from `pkg-config --cflags --libs bitnet`.

/*
#cgo pkg-config: bitnet
*/
import "C"
