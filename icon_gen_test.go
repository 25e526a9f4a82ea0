package main

import (
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// The icon files in icons/ are drawn by drawIcon below; TestIconFiles checks
// that they still match it, and go test -run TestIconFiles -update-icons
// writes them anew after a change to the drawing.
var updateIcons = flag.Bool("update-icons", false, "rewrite the files in icons/ from drawIcon")

// iconSizes are the PNG sizes of the icon set: the freedesktop hicolor
// theme's sizes for the desktop entry, and the sources of the ICO and ICNS.
var iconSizes = []int{16, 22, 24, 32, 48, 64, 128, 256, 512, 1024}

// icoSizes are the images of decoder.ico, which Windows picks from for the
// tray (16, 24 and 32 at 100 to 200 % scaling), Explorer and the Start menu.
var icoSizes = []int{16, 24, 32, 48, 64, 256}

// icnsTypes are the entries of decoder.icns, the macOS application icon,
// by OSType: each holds a PNG of that many pixels a side.
var icnsTypes = []struct {
	osType string
	size   int
}{
	{"icp4", 16}, {"icp5", 32}, {"icp6", 64}, {"ic07", 128}, {"ic08", 256}, {"ic09", 512},
	{"ic10", 1024}, {"ic11", 32}, {"ic12", 64}, {"ic13", 256}, {"ic14", 512},
}

// templateSize is the macOS menu-bar template image's side: the bar shows it
// at 16 points, so 32 pixels are sharp on Retina screens.
const templateSize = 32

// drawIcon paints decoder's icon at size pixels a side: a white play sign
// on a rounded blue square or, for template, the same sign cut out of a
// black rounded square with a margin, which macOS tints to suit the menu
// bar. Each pixel's coverage is sampled 4×4 times for smooth edges.
func drawIcon(size int, template bool) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	blue := color.NRGBA{0x1f, 0x6f, 0xeb, 0xff}
	inset := 0.0
	if template {
		inset = 2.0 / 32
	}
	const sub = 4
	for y := 0; y < size; y++ {
		for x := 0; x < size; x++ {
			var square, play int
			for sy := 0; sy < sub; sy++ {
				for sx := 0; sx < sub; sx++ {
					u := (float64(x) + (float64(sx)+0.5)/sub) / float64(size)
					v := (float64(y) + (float64(sy)+0.5)/sub) / float64(size)
					if inRoundedSquare(u, v, inset) {
						square++
						if inPlaySign(u, v) {
							play++
						}
					}
				}
			}
			if template {
				a := (square - play) * 255 / (sub * sub)
				img.SetNRGBA(x, y, color.NRGBA{0, 0, 0, uint8(a)})
				continue
			}
			if square == 0 {
				continue
			}
			// White over blue by the play sign's share of the square.
			mix := func(c uint8) uint8 { return uint8((int(c)*(square-play) + 255*play) / square) }
			img.SetNRGBA(x, y, color.NRGBA{mix(blue.R), mix(blue.G), mix(blue.B), uint8(square * 255 / (sub * sub))})
		}
	}
	return img
}

// inRoundedSquare reports whether (u, v), in units of the icon's side, lies
// in the square inset by inset on each side with corners of radius 3/16.
func inRoundedSquare(u, v, inset float64) bool {
	const r = 3.0 / 16
	lo, hi := inset+r, 1-inset-r
	if u < inset || u > 1-inset || v < inset || v > 1-inset {
		return false
	}
	dx := max(lo-u, u-hi, 0)
	dy := max(lo-v, v-hi, 0)
	return dx*dx+dy*dy <= r*r
}

// inPlaySign reports whether (u, v) lies in the triangle pointing right
// from (22, 16) to (48, 32) to (22, 48) on a 64-unit grid.
func inPlaySign(u, v float64) bool {
	x, y := u*64, v*64
	if x < 22 || x > 48 {
		return false
	}
	half := (48 - x) * 16 / 26
	return y >= 32-half && y <= 32+half
}

// encodePNG is img as a PNG file.
func encodePNG(t testing.TB, img image.Image) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// buildICO packs PNG images into an ICO file (PNG entries are read by
// Windows Vista and later): a directory of 16-byte entries, then the data.
func buildICO(pngs map[int][]byte, sizes []int) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, [3]uint16{0, 1, uint16(len(sizes))})
	offset := 6 + 16*len(sizes)
	for _, s := range sizes {
		side := uint8(s)
		if s >= 256 {
			side = 0 // 0 means 256 in an ICO directory
		}
		b.Write([]byte{side, side, 0, 0})
		binary.Write(&b, binary.LittleEndian, [2]uint16{1, 32})
		binary.Write(&b, binary.LittleEndian, [2]uint32{uint32(len(pngs[s])), uint32(offset)})
		offset += len(pngs[s])
	}
	for _, s := range sizes {
		b.Write(pngs[s])
	}
	return b.Bytes()
}

// buildICNS packs PNG images into an ICNS file: "icns" and the file's
// length, then per entry its OSType, its length with this header, and the
// PNG, all lengths big-endian.
func buildICNS(pngs map[int][]byte) []byte {
	var body bytes.Buffer
	for _, e := range icnsTypes {
		body.WriteString(e.osType)
		binary.Write(&body, binary.BigEndian, uint32(8+len(pngs[e.size])))
		body.Write(pngs[e.size])
	}
	var b bytes.Buffer
	b.WriteString("icns")
	binary.Write(&b, binary.BigEndian, uint32(8+body.Len()))
	b.Write(body.Bytes())
	return b.Bytes()
}

// iconSet is every file of icons/ as drawIcon makes it, by name, drawn
// once per test run: the large sizes take a while.
func iconSet(t testing.TB) map[string][]byte {
	iconSetOnce.Do(func() { iconSetFiles = drawIconSet(t) })
	return iconSetFiles
}

var (
	iconSetOnce  sync.Once
	iconSetFiles map[string][]byte
)

func drawIconSet(t testing.TB) map[string][]byte {
	files := map[string][]byte{}
	pngs := map[int][]byte{}
	for _, s := range iconSizes {
		pngs[s] = encodePNG(t, drawIcon(s, false))
		files[fmt.Sprintf("decoder-%d.png", s)] = pngs[s]
	}
	files["decoder.ico"] = buildICO(pngs, icoSizes)
	files["decoder.icns"] = buildICNS(pngs)
	files["decoder-template.png"] = encodePNG(t, drawIcon(templateSize, true))
	return files
}

// TestIconFiles checks that icons/ holds the icon set that drawIcon draws,
// pixel for pixel where the file is a PNG, so that the tray, the page, the
// desktop entry and the installers all show the same icon; ICO and ICNS
// are compared byte for byte, since they only wrap those PNGs.
func TestIconFiles(t *testing.T) {
	want := iconSet(t)
	for name, data := range want {
		path := filepath.Join("icons", name)
		if *updateIcons {
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("%v: run go test -run TestIconFiles -update-icons", err)
			continue
		}
		if filepath.Ext(name) != ".png" {
			if !bytes.Equal(got, data) {
				t.Errorf("%s differs from what drawIcon makes; run go test -run TestIconFiles -update-icons", path)
			}
			continue
		}
		if !samePixels(t, got, data) {
			t.Errorf("%s differs from what drawIcon draws; run go test -run TestIconFiles -update-icons", path)
		}
	}
}

// samePixels reports whether two PNG files hold the same picture, whatever
// the encoder's choices.
func samePixels(t testing.TB, a, b []byte) bool {
	ia, err := png.Decode(bytes.NewReader(a))
	if err != nil {
		t.Errorf("decoding a PNG: %v", err)
		return false
	}
	ib, _ := png.Decode(bytes.NewReader(b))
	if ia.Bounds() != ib.Bounds() {
		return false
	}
	for y := ia.Bounds().Min.Y; y < ia.Bounds().Max.Y; y++ {
		for x := ia.Bounds().Min.X; x < ia.Bounds().Max.X; x++ {
			if color.NRGBAModel.Convert(ia.At(x, y)) != color.NRGBAModel.Convert(ib.At(x, y)) {
				return false
			}
		}
	}
	return true
}

// TestEmbeddedIcons checks that the icons the binary carries are there and
// are the icon set's, in the formats each platform's tray takes.
func TestEmbeddedIcons(t *testing.T) {
	set := iconSet(t)
	for name, got := range map[string][]byte{"decoder-64.png": iconPNG(), "decoder-template.png": iconTemplatePNG()} {
		if len(got) == 0 || !samePixels(t, got, set[name]) {
			t.Errorf("embedded %s is missing or not the icon set's", name)
		}
	}
	if !bytes.Equal(iconICO(), set["decoder.ico"]) {
		t.Errorf("embedded decoder.ico is missing or not the icon set's")
	}
}
