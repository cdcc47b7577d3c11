/* QR codes for sesame-mint --qr. The code holds a login link or token,
 * so the module matrix and every buffer that renders it is wiped. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <qrencode.h>

#include "sesame-build.h"
#if SESAME_HAVE_PNG
#include <png.h>
#endif

#include "qr.h"
#include "util.h"

#define QZ SESAME_QR_QUIET_ZONE

static const char glyph_full[] = "\xe2\x96\x88";  /* U+2588 both halves light */
static const char glyph_upper[] = "\xe2\x96\x80"; /* U+2580 upper half light */
static const char glyph_lower[] = "\xe2\x96\x84"; /* U+2584 lower half light */
static const char ansi_on[] = "\033[1;37;40m";     /* bright white on black */
static const char ansi_off[] = "\033[0m";

/* Level M, any version. hint QR_MODE_8 only chooses 8-bit over Kanji for
 * non-ASCII; with casesensitive=1 libqrencode still splits the input into
 * numeric, alphanumeric and 8-bit runs by cost, so a 60-character upper
 * case token goes alphanumeric (version 3) and a link mostly 8-bit. */
static QRcode *qr_encode(const char *text, struct sesame_err *err)
{
	QRcode *qr;

	if (text == NULL || text[0] == '\0') {
		sesame_err_set(err, "QR code: nothing to encode");
		return NULL;
	}
	errno = 0;
	qr = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
	if (qr == NULL)
		sesame_err_set(err, "QR code: cannot encode: %s",
			       errno == ERANGE ? "text too long for a QR code" : strerror(errno));
	return qr;
}

static void qr_free(QRcode *qr)
{
	if (qr == NULL)
		return;
	sesame_wipe(qr->data, (size_t)qr->width * (size_t)qr->width);
	QRcode_free(qr);
}

/* Module at (x, y) counted from the outer edge of the quiet zone;
 * anything outside the symbol is light. Bit 0 of a module is "dark". */
static int is_dark(const QRcode *qr, int x, int y)
{
	x -= QZ;
	y -= QZ;
	if (x < 0 || y < 0 || x >= qr->width || y >= qr->width)
		return 0;
	return qr->data[y * qr->width + x] & 1;
}

static int side_of(const QRcode *qr)
{
	return qr->width + 2 * QZ;
}

int sesame_qr_version(const char *text, struct sesame_err *err)
{
	QRcode *qr = qr_encode(text, err);
	int version;

	if (qr == NULL)
		return -1;
	version = qr->version;
	qr_free(qr);
	return version;
}

/* ---- terminal ---- */

/* One text line: module rows y and y+1. A block is a light module. */
static size_t utf8_line(const QRcode *qr, int y, int ansi, char *line, size_t cap)
{
	size_t len = 0;
	int x;

	if (ansi) {
		memcpy(line, ansi_on, sizeof(ansi_on) - 1);
		len = sizeof(ansi_on) - 1;
	}
	for (x = 0; x < side_of(qr) && len + 3 < cap; x++) {
		int top_light = !is_dark(qr, x, y), bottom_light = !is_dark(qr, x, y + 1);
		const char *g = top_light ? (bottom_light ? glyph_full : glyph_upper)
					  : (bottom_light ? glyph_lower : " ");

		memcpy(line + len, g, strlen(g));
		len += strlen(g);
	}
	if (ansi && len + sizeof(ansi_off) - 1 < cap) {
		memcpy(line + len, ansi_off, sizeof(ansi_off) - 1);
		len += sizeof(ansi_off) - 1;
	}
	line[len++] = '\n';
	return len;
}

int sesame_qr_utf8_style(const char *text, FILE *out, enum sesame_qr_style style,
			 struct sesame_err *err)
{
	/* 177 modules + quiet zone, 3 bytes each, colour codes, newline */
	char line[(177 + 2 * QZ) * 3 + 32];
	QRcode *qr = NULL;
	int ansi, y, r = -1;

	if (out == NULL) {
		sesame_err_set(err, "QR code: no output");
		goto out;
	}
	ansi = style == SESAME_QR_ANSI || (style == SESAME_QR_AUTO && isatty(fileno(out)));
	qr = qr_encode(text, err);
	if (qr == NULL)
		goto out;
	for (y = 0; y < side_of(qr); y += 2) {
		size_t len = utf8_line(qr, y, ansi, line, sizeof(line) - 1);

		if (fwrite(line, 1, len, out) != len)
			break;
	}
	if (y < side_of(qr) || fflush(out) != 0) {
		sesame_err_set(err, "QR code: cannot write: %s", strerror(errno));
		goto out;
	}
	r = 0;
out:
	sesame_wipe(line, sizeof(line));
	qr_free(qr);
	return r;
}

int sesame_qr_utf8(const char *text, FILE *out, struct sesame_err *err)
{
	return sesame_qr_utf8_style(text, out, SESAME_QR_AUTO, err);
}

/* ---- files ---- */

/* A new file written through stdio with our own buffer, so that what
 * stdio held of the image can be wiped after fclose. */
struct qr_output {
	FILE *f;
	const char *path;
	struct stat created;
	char buf[8192];
};

static int output_create(struct qr_output *o, const char *path, struct sesame_err *err)
{
	int fd;

	o->f = NULL;
	o->path = path;
	if (path == NULL || path[0] == '\0') {
		sesame_err_set(err, "output file: not given (-o FILE)");
		return -1;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
	if (fd < 0) {
		sesame_err_set(err, "output file %s: %s", path, strerror(errno));
		return -1;
	}
	/* fchmod: the umask may only take bits away, but 0600 is the promise */
	if (fstat(fd, &o->created) != 0 || fchmod(fd, 0600) != 0 ||
	    (o->f = fdopen(fd, "w")) == NULL) {
		sesame_err_set(err, "output file %s: %s", path, strerror(errno));
		close(fd);
		unlink(path); /* O_EXCL: the file is the one we just made */
		return -1;
	}
	setvbuf(o->f, o->buf, _IOFBF, sizeof(o->buf));
	return 0;
}

/* Flush, fsync and close; on any failure remove the file, but only if
 * the path still names the file we created. */
static int output_finish(struct qr_output *o, int written, struct sesame_err *err)
{
	struct stat now;
	int ok = written;

	if (ok && (fflush(o->f) != 0 || fsync(fileno(o->f)) != 0)) {
		sesame_err_set(err, "output file %s: %s", o->path, strerror(errno));
		ok = 0;
	}
	if (fclose(o->f) != 0 && ok) {
		sesame_err_set(err, "output file %s: %s", o->path, strerror(errno));
		ok = 0;
	}
	o->f = NULL;
	sesame_wipe(o->buf, sizeof(o->buf));
	if (!ok && lstat(o->path, &now) == 0 && now.st_dev == o->created.st_dev &&
	    now.st_ino == o->created.st_ino)
		unlink(o->path);
	return ok ? 0 : -1;
}

/* One path of unit squares, a run of dark modules per subpath. */
static int svg_write(FILE *f, const QRcode *qr)
{
	int side = side_of(qr), x, y, run;

	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		   "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" "
		   "viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" "
		   "shape-rendering=\"crispEdges\">\n"
		   "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n"
		   "<path fill=\"#000000\" d=\"",
		side, side, side * SESAME_QR_PNG_SCALE, side * SESAME_QR_PNG_SCALE, side, side);
	for (y = QZ; y < side - QZ; y++) {
		for (x = QZ; x < side - QZ; x += run > 0 ? run : 1) {
			for (run = 0; x + run < side - QZ && is_dark(qr, x + run, y); run++)
				;
			if (run > 0)
				fprintf(f, "M%d %dh%dv1h-%dz", x, y, run, run);
		}
		fputc('\n', f);
	}
	fprintf(f, "\"/>\n</svg>\n");
	return ferror(f) ? -1 : 0;
}

int sesame_qr_svg(const char *text, const char *path, struct sesame_err *err)
{
	struct qr_output o;
	QRcode *qr = qr_encode(text, err);
	int written, r = -1;

	if (qr == NULL)
		return -1;
	if (output_create(&o, path, err) != 0)
		goto out;
	written = svg_write(o.f, qr) == 0;
	if (!written)
		sesame_err_set(err, "output file %s: %s", path, strerror(errno));
	r = output_finish(&o, written, err);
out:
	qr_free(qr);
	return r;
}

#if SESAME_HAVE_PNG

struct png_context {
	struct sesame_err *err;
	const char *path;
};

static void png_fail(png_structp png, png_const_charp msg)
{
	struct png_context *ctx = png_get_error_ptr(png);

	sesame_err_set(ctx->err, "output file %s: PNG: %s", ctx->path, msg);
	png_longjmp(png, 1);
}

static void png_ignore_warning(png_structp png, png_const_charp msg)
{
	(void)png;
	(void)msg;
}

/* 1-bit grey rows, MSB first, 1 = white; libpng longjmps out on error. */
static void png_emit(png_structp png, png_infop info, FILE *f, const QRcode *qr,
		     unsigned char *row, size_t row_bytes)
{
	int px_side = side_of(qr) * SESAME_QR_PNG_SCALE, px, py;

	png_init_io(png, f);
	png_set_IHDR(png, info, (png_uint_32)px_side, (png_uint_32)px_side, 1, PNG_COLOR_TYPE_GRAY,
		     PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	png_write_info(png, info);
	for (py = 0; py < px_side; py++) {
		if (py % SESAME_QR_PNG_SCALE == 0) {
			memset(row, 0, row_bytes);
			for (px = 0; px < px_side; px++) {
				if (!is_dark(qr, px / SESAME_QR_PNG_SCALE, py / SESAME_QR_PNG_SCALE))
					row[px / 8] |= (unsigned char)(0x80 >> (px % 8));
			}
		}
		png_write_row(png, row);
	}
	png_write_end(png, NULL);
}

static int png_write(FILE *f, const QRcode *qr, const char *path, struct sesame_err *err)
{
	struct png_context ctx = {err, path};
	size_t row_bytes = ((size_t)side_of(qr) * SESAME_QR_PNG_SCALE + 7) / 8;
	unsigned char *row = calloc(1, row_bytes);
	png_structp png = NULL;
	png_infop info = NULL;
	volatile int r = -1;

	if (row == NULL)
		goto nomem;
	png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &ctx, png_fail, png_ignore_warning);
	if (png == NULL || (info = png_create_info_struct(png)) == NULL)
		goto nomem;
	if (setjmp(png_jmpbuf(png)) == 0) {
		png_emit(png, info, f, qr, row, row_bytes);
		r = 0;
	}
	goto out;
nomem:
	sesame_err_set(err, "output file %s: out of memory", path);
out:
	png_destroy_write_struct(&png, &info);
	sesame_wipe(row, row_bytes);
	free(row);
	return r;
}

int sesame_qr_png(const char *text, const char *path, struct sesame_err *err)
{
	struct qr_output o;
	QRcode *qr = qr_encode(text, err);
	int r = -1;

	if (qr == NULL)
		return -1;
	if (output_create(&o, path, err) != 0)
		goto out;
	r = output_finish(&o, png_write(o.f, qr, path, err) == 0 && !ferror(o.f), err);
out:
	qr_free(qr);
	return r;
}

#else

int sesame_qr_png(const char *text, const char *path, struct sesame_err *err)
{
	(void)text;
	(void)path;
	sesame_err_set(err, "PNG output not built (meson -Dpng=enabled)");
	return -1;
}

#endif
