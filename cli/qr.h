/* QR codes of a login link or token for sesame-mint --qr: in the
 * terminal, or as a PNG or SVG file. The text is a secret: every
 * function wipes its copies of the code before returning. */
#ifndef SESAME_QR_H
#define SESAME_QR_H

#include <stdio.h>

#include "err.h"

/* Modules of light border around the code, as the QR standard asks. */
#define SESAME_QR_QUIET_ZONE 4
/* Pixels per module in a PNG. */
#define SESAME_QR_PNG_SCALE 8

/* How the terminal drawing gets its colours. The glyphs are the same in
 * both: half blocks (U+2580, U+2584, U+2588 and space), two module rows per
 * text line, a block standing for a LIGHT module.
 *  PLAIN: no escape codes. Correct on a terminal with light text on a dark
 *         background; inverted on a light one (many scanners read that too).
 *  ANSI:  each line sets bright white on black and resets at its end, so
 *         the code reads the right way round on dark and light terminals.
 *  AUTO:  ANSI when `out` is a terminal, else PLAIN. */
enum sesame_qr_style { SESAME_QR_AUTO, SESAME_QR_PLAIN, SESAME_QR_ANSI };

/* Encode at level M, smallest version that fits, mixed modes (a bare
 * upper-case token is alphanumeric and fits version 3). Return 0, or -1
 * with err set. */
int sesame_qr_utf8(const char *text, FILE *out, struct sesame_err *err);
int sesame_qr_utf8_style(const char *text, FILE *out, enum sesame_qr_style style,
			 struct sesame_err *err);

/* Write a new file, mode 0600, never over an existing one or through a
 * symbolic link; a partly written file is removed. PNG needs libpng
 * (meson -Dpng=enabled); without it sesame_qr_png fails with a reason. */
int sesame_qr_png(const char *text, const char *path, struct sesame_err *err);
int sesame_qr_svg(const char *text, const char *path, struct sesame_err *err);

/* The version (1-40) the text encodes to, or -1 with err set. For tests
 * and for --json. */
int sesame_qr_version(const char *text, struct sesame_err *err);

#endif
