package main

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"sync"
)

// iconPNG is decoder's icon for the tray and the page: a play sign on a
// rounded blue square. It is drawn in code so that no binary asset has to be
// kept in step with it.
var iconPNG = sync.OnceValue(func() []byte {
	const size = 64
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	blue := color.NRGBA{0x1f, 0x6f, 0xeb, 0xff}
	white := color.NRGBA{0xff, 0xff, 0xff, 0xff}
	const radius = 12
	for y := 0; y < size; y++ {
		for x := 0; x < size; x++ {
			// Distance from the nearest inner corner decides the rounding.
			dx := max(radius-x, x-(size-1-radius), 0)
			dy := max(radius-y, y-(size-1-radius), 0)
			if dx*dx+dy*dy > radius*radius {
				continue
			}
			img.SetNRGBA(x, y, blue)
			// A triangle pointing right, from (22,16) to (48,32) to (22,48).
			if x >= 22 && x <= 48 {
				half := (48 - x) * 16 / 26
				if y >= 32-half && y <= 32+half {
					img.SetNRGBA(x, y, white)
				}
			}
		}
	}
	var b bytes.Buffer
	png.Encode(&b, img)
	return b.Bytes()
})
