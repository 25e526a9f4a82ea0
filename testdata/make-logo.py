#!/usr/bin/python3
# Writes web/logo.svg: the name 解码器 as outlines, so that the page shows it
# on machines without a CJK font. The glyphs are those of Noto Sans CJK SC
# Bold (SIL Open Font License 1.1), from Debian's fonts-noto-cjk; fontTools
# is Debian's python3-fonttools. From the repository's root:
#
#   apt-get install fonts-noto-cjk python3-fonttools
#   /usr/bin/python3 testdata/make-logo.py > web/logo.svg
#
# The viewBox is in font units: 1000 per em, the three glyphs side by side,
# the top at the ascender (880) and the bottom at the descender (-120), so
# that a logo 1em high sits on the text's baseline when lowered by 0.12em.
# Coordinates are rounded to whole units (a thousandth of an em).
import sys

from fontTools.pens.svgPathPen import SVGPathPen
from fontTools.pens.transformPen import TransformPen
from fontTools.ttLib import TTCollection

FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc"
FACE = "Noto Sans CJK SC Bold"
TEXT = "解码器"


def main():
    font = next(f for f in TTCollection(FONT).fonts if f["name"].getDebugName(4) == FACE)
    glyphs = font.getGlyphSet()
    cmap = font.getBestCmap()
    em = font["head"].unitsPerEm
    ascent, descent = font["OS/2"].sTypoAscender, font["OS/2"].sTypoDescender
    assert em == 1000, f"{FACE} has {em} units per em; the comment above says 1000"
    version = font["name"].getDebugName(5).split(";")[0]
    notice = font["name"].getDebugName(0)

    paths, x = [], 0
    for ch in TEXT:
        glyph = glyphs[cmap[ord(ch)]]
        pen = SVGPathPen(glyphs, ntos=lambda v: str(round(v)))
        # Font units grow upwards from the baseline, SVG's downwards from
        # the top: flip, and move the baseline to y = ascent.
        glyph.draw(TransformPen(pen, (1, 0, 0, -1, x, ascent)))
        paths.append(f'<path d="{pen.getCommands()}"/>')
        x += glyph.width

    sys.stdout.write(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="logo" viewBox="0 0 {x} {ascent - descent}" '
        f'fill="currentColor" role="img" aria-label="{TEXT}">'
        f"<!-- {TEXT}: glyphs of {FACE}, {version}, {notice} "
        f"Licensed under the SIL Open Font License 1.1: https://openfontlicense.org. "
        f"Made by decoder's testdata/make-logo.py. -->"
        f"<title>{TEXT}</title>" + "".join(paths) + "</svg>\n"
    )


if __name__ == "__main__":
    main()
