/* QR output: geometry and glyphs of the terminal drawing, the version a
 * token needs, and the PNG/SVG files (0600, never over an existing file
 * or through a symlink, no partial file left). When zbarimg is installed
 * each output is also decoded back; without it those checks are skipped. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sesame-build.h"
#include "../../cli/qr.h" /* tests/ sees only common/ on its include path */
#include "testutil.h"

#define TOKEN "SSM1ABCDEFGHJKMNPQRSTVWXYZ0123456789ABCDEFGHJKMNPQRSTVWXYZ01"
#define LINK "https://login.example.com/#sesame=" TOKEN
#define ZBARIMG "/usr/bin/zbarimg"

static const char *dir;

static char *path_in_dir(const char *name)
{
	static char paths[8][4096];
	static int next;
	char *p = paths[next++ % 8];

	snprintf(p, sizeof(paths[0]), "%s/%s", dir, name);
	return p;
}

static char *slurp(const char *path, size_t *len)
{
	static char buf[1 << 16];
	FILE *f = fopen(path, "rb");
	size_t n = 0;

	if (f != NULL) {
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	if (len != NULL)
		*len = n;
	return f != NULL ? buf : NULL;
}

static void test_versions(void)
{
	struct sesame_err err = {""};

	CHECK_EQ_INT(strlen(TOKEN), 60);
	CHECK(sesame_qr_version(TOKEN, &err) >= 1);
	CHECK(sesame_qr_version(TOKEN, &err) <= 3);
	CHECK_EQ_INT(sesame_qr_version("HELLO", &err), 1);
	CHECK(sesame_qr_version(LINK, &err) > 3);
	CHECK_EQ_INT(sesame_qr_version("", &err), -1);
	CHECK(strstr(err.msg, "nothing to encode") != NULL);
	CHECK_EQ_INT(sesame_qr_version(NULL, &err), -1);
}

/* Count lines and glyphs; every glyph must be a half block, a full block
 * or a space. Returns the number of lines, or -1 on a stray byte or a
 * line of the wrong width. */
static int check_utf8_drawing(const char *s, int ansi, int side)
{
	static const char on[] = "\033[1;37;40m", off[] = "\033[0m\n";
	int lines = 0, glyphs = 0;

	while (*s != '\0') {
		if (ansi && glyphs == 0 && strncmp(s, on, strlen(on)) == 0) {
			s += strlen(on);
			continue;
		}
		if ((ansi && strncmp(s, off, strlen(off)) == 0) || (!ansi && *s == '\n')) {
			if (glyphs != side)
				return -1;
			s += ansi ? strlen(off) : 1;
			lines++;
			glyphs = 0;
		} else if (*s == ' ') {
			s++;
			glyphs++;
		} else if (strncmp(s, "\xe2\x96\x80", 3) == 0 || strncmp(s, "\xe2\x96\x84", 3) == 0 ||
			   strncmp(s, "\xe2\x96\x88", 3) == 0) {
			s += 3;
			glyphs++;
		} else {
			return -1;
		}
	}
	return glyphs == 0 ? lines : -1;
}

static char *draw(const char *text, enum sesame_qr_style style)
{
	static char buf[1 << 16];
	struct sesame_err err = {""};
	FILE *f = tmpfile();
	size_t n;

	if (f == NULL)
		return NULL;
	CHECK_EQ_INT(sesame_qr_utf8_style(text, f, style, &err), 0);
	rewind(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void test_utf8(void)
{
	struct sesame_err err = {""};
	const char *s;
	FILE *f;

	/* version 1: 21 modules + 2 * 4 quiet = 29 rows, two per line */
	s = draw("HELLO", SESAME_QR_PLAIN);
	CHECK_EQ_INT(check_utf8_drawing(s, 0, 29), 15);
	/* the first two lines are quiet zone only: light, so all full blocks */
	CHECK(strncmp(s, "\xe2\x96\x88\xe2\x96\x88\xe2\x96\x88\xe2\x96\x88", 12) == 0);
	s = draw("HELLO", SESAME_QR_ANSI);
	CHECK_EQ_INT(check_utf8_drawing(s, 1, 29), 15);
	s = draw(TOKEN, SESAME_QR_PLAIN); /* version 3: 29 + 8 = 37 rows */
	CHECK_EQ_INT(check_utf8_drawing(s, 0, 37), 19);
	/* not a terminal: AUTO draws plain */
	s = draw(TOKEN, SESAME_QR_AUTO);
	CHECK_EQ_INT(check_utf8_drawing(s, 0, 37), 19);

	f = tmpfile();
	CHECK_EQ_INT(sesame_qr_utf8("", f, &err), -1);
	CHECK_EQ_INT(sesame_qr_utf8(TOKEN, NULL, &err), -1);
	if (f != NULL)
		fclose(f);
}

static void test_file_rules(int (*write_qr)(const char *, const char *, struct sesame_err *),
			    const char *kind)
{
	struct sesame_err err = {""};
	struct stat st;
	char name[64];
	char *path, *existing, *link, *target, *got;
	mode_t old_umask;

	snprintf(name, sizeof(name), "new.%s", kind);
	path = path_in_dir(name);
	old_umask = umask(0);
	CHECK_EQ_INT(write_qr(TOKEN, path, &err), 0);
	umask(old_umask);
	CHECK(lstat(path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 07777) == 0600);
	CHECK(st.st_size > 0);

	/* an existing file is refused and left as it was */
	snprintf(name, sizeof(name), "existing.%s", kind);
	existing = path_in_dir(name);
	got = slurp(existing, NULL);
	CHECK(got == NULL);
	{
		FILE *f = fopen(existing, "w");
		if (f != NULL) {
			fputs("keep me", f);
			fclose(f);
		}
	}
	CHECK_EQ_INT(write_qr(TOKEN, existing, &err), -1);
	CHECK(strstr(err.msg, existing) != NULL && strstr(err.msg, "File exists") != NULL);
	got = slurp(existing, NULL);
	CHECK(got != NULL && strcmp(got, "keep me") == 0);

	/* a symlink, dangling or not, is refused and nothing is created through it */
	snprintf(name, sizeof(name), "target.%s", kind);
	target = path_in_dir(name);
	snprintf(name, sizeof(name), "link.%s", kind);
	link = path_in_dir(name);
	CHECK(symlink(target, link) == 0);
	CHECK_EQ_INT(write_qr(TOKEN, link, &err), -1);
	CHECK(lstat(target, &st) != 0 && errno == ENOENT);
	CHECK(unlink(link) == 0);
	CHECK(symlink(existing, link) == 0);
	CHECK_EQ_INT(write_qr(TOKEN, link, &err), -1);
	got = slurp(existing, NULL);
	CHECK(got != NULL && strcmp(got, "keep me") == 0);

	CHECK_EQ_INT(write_qr(TOKEN, NULL, &err), -1);
	CHECK_EQ_INT(write_qr(TOKEN, "", &err), -1);
	snprintf(name, sizeof(name), "empty.%s", kind);
	CHECK_EQ_INT(write_qr("", path_in_dir(name), &err), -1);
	CHECK(lstat(path_in_dir(name), &st) != 0);
}

/* A write that fails part-way (file size limit) leaves no file behind. */
static void test_partial_removed(int (*write_qr)(const char *, const char *, struct sesame_err *),
				 const char *kind)
{
	struct sesame_err err = {""};
	struct rlimit old, tiny;
	struct stat st;
	char name[64];

	snprintf(name, sizeof(name), "partial.%s", kind);
	signal(SIGXFSZ, SIG_IGN);
	getrlimit(RLIMIT_FSIZE, &old);
	tiny = old;
	tiny.rlim_cur = 64;
	CHECK(setrlimit(RLIMIT_FSIZE, &tiny) == 0);
	CHECK_EQ_INT(write_qr(LINK, path_in_dir(name), &err), -1);
	setrlimit(RLIMIT_FSIZE, &old);
	signal(SIGXFSZ, SIG_DFL);
	CHECK(strstr(err.msg, path_in_dir(name)) != NULL);
	CHECK(lstat(path_in_dir(name), &st) != 0 && errno == ENOENT);
}

static void test_svg(void)
{
	struct sesame_err err = {""};
	char *path = path_in_dir("hello.svg"), *svg;

	CHECK_EQ_INT(sesame_qr_svg("HELLO", path, &err), 0);
	svg = slurp(path, NULL);
	CHECK(svg != NULL && strstr(svg, "<svg") != NULL);
	CHECK(svg != NULL && strstr(svg, "viewBox=\"0 0 29 29\"") != NULL);
	CHECK(svg != NULL && strstr(svg, "shape-rendering=\"crispEdges\"") != NULL);
	CHECK(svg != NULL && strstr(svg, "fill=\"#ffffff\"") != NULL);
	CHECK(svg != NULL && strstr(svg, "</svg>\n") != NULL);
	test_file_rules(sesame_qr_svg, "svg");
	test_partial_removed(sesame_qr_svg, "svg");
}

static void test_png(void)
{
	struct sesame_err err = {""};
	char *path = path_in_dir("hello.png"), *png;
	size_t len = 0;

	if (!SESAME_HAVE_PNG) {
		CHECK_EQ_INT(sesame_qr_png("HELLO", path, &err), -1);
		CHECK(strstr(err.msg, "PNG output not built") != NULL);
		return;
	}
	CHECK_EQ_INT(sesame_qr_png("HELLO", path, &err), 0);
	png = slurp(path, &len);
	CHECK(png != NULL && len > 8 && memcmp(png, "\x89PNG\r\n\x1a\n", 8) == 0);
	test_file_rules(sesame_qr_png, "png");
	test_partial_removed(sesame_qr_png, "png");
}

/* ---- optional: decode what we drew ---- */

/* Write a grid (1 = light) as a binary PGM, 4 pixels per module. */
static int write_pgm(const char *path, const unsigned char *light, int w, int h)
{
	FILE *f = fopen(path, "wb");
	int x, y, i;

	if (f == NULL)
		return -1;
	fprintf(f, "P5 %d %d 255\n", w * 4, h * 4);
	for (y = 0; y < h * 4; y++)
		for (x = 0; x < w * 4; x++)
			fputc(light[(y / 4) * w + x / 4] ? 255 : 0, f);
	i = ferror(f);
	return fclose(f) == 0 && i == 0 ? 0 : -1;
}

/* The plain drawing back to modules: a block's halves are light. */
static int utf8_to_pgm(const char *s, const char *path)
{
	static unsigned char light[200 * 200];
	int x = 0, y = 0, w = 0;

	memset(light, 0, sizeof(light));
	while (*s != '\0' && y < 198) {
		int top = 0, bottom = 0;

		if (*s == '\n') {
			w = x;
			x = 0;
			y += 2;
			s++;
			continue;
		}
		if (*s == ' ') {
			s++;
		} else {
			top = s[2] == '\x88' || s[2] == '\x80';
			bottom = s[2] == '\x88' || s[2] == '\x84';
			s += 3;
		}
		if (x < 200) {
			light[y * 200 + x] = (unsigned char)top;
			light[(y + 1) * 200 + x] = (unsigned char)bottom;
		}
		x++;
	}
	(void)w;
	return write_pgm(path, light, 200, y);
}

/* Our SVG back to modules: every "Mx yhNv1h-Nz" is a run of dark ones. */
static int svg_to_pgm(const char *svg, const char *path)
{
	static unsigned char light[200 * 200];
	const char *p = strstr(svg, " d=\"");
	int x, y, run, used, i;

	memset(light, 1, sizeof(light));
	if (p == NULL)
		return -1;
	p += 4;
	while (*p != '"' && *p != '\0') {
		if (sscanf(p, "M%d %dh%dv1h-%*dz%n", &x, &y, &run, &used) == 3 && x >= 0 &&
		    y >= 0 && y < 200 && x + run <= 200) {
			for (i = 0; i < run; i++)
				light[y * 200 + x + i] = 0;
			p += used;
		} else {
			p++;
		}
	}
	return write_pgm(path, light, 200, 200);
}

static int zbar_decodes(const char *image, const char *want)
{
	char command[8300], out[2048] = "";
	FILE *p;
	size_t n;

	snprintf(command, sizeof(command), "%s --raw -q '%s' 2>/dev/null", ZBARIMG, image);
	p = popen(command, "r");
	if (p == NULL)
		return 0;
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	pclose(p);
	if (n > 0 && out[n - 1] == '\n')
		out[n - 1] = '\0';
	if (strcmp(out, want) != 0)
		fprintf(stderr, "  zbarimg %s: got \"%s\"\n", image, out);
	return strcmp(out, want) == 0;
}

static void test_decode(void)
{
	struct sesame_err err = {""};
	char *svg_path = path_in_dir("decode.svg"), *pgm = path_in_dir("decode.pgm"), *s;

	if (access(ZBARIMG, X_OK) != 0) {
		printf("qr: decoding checks skipped: %s not installed (zbar-tools)\n", ZBARIMG);
		return;
	}
	s = draw(LINK, SESAME_QR_PLAIN);
	CHECK(utf8_to_pgm(s, pgm) == 0 && zbar_decodes(pgm, LINK));
	unlink(pgm);
	CHECK_EQ_INT(sesame_qr_svg(LINK, svg_path, &err), 0);
	s = slurp(svg_path, NULL);
	CHECK(s != NULL && svg_to_pgm(s, pgm) == 0 && zbar_decodes(pgm, LINK));
	if (SESAME_HAVE_PNG) {
		CHECK_EQ_INT(sesame_qr_png(TOKEN, path_in_dir("token.png"), &err), 0);
		CHECK(zbar_decodes(path_in_dir("token.png"), TOKEN));
	}
}

int main(void)
{
	dir = test_tmpdir("qr");
	test_versions();
	test_utf8();
	test_svg();
	test_png();
	test_decode();
	test_rmtree(dir);
	return test_finish("qr");
}
