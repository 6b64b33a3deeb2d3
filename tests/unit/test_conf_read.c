/* test_conf_read.c - daemon/conf_read.c against libconfig itself.
 *
 * Whatever text the reader takes, libconfig must take too and build the
 * same tree: the same names, types, formats, values and line numbers
 * (every FILE:LINE message rests on them), the streamed patients lists
 * element by element.  Whatever libconfig refuses, the reader must refuse
 * (then libconfig reads it, and reports).  Checked on hand-picked texts,
 * on the project's own configurations, and on generated ones: valid ones
 * with every kind of token and blank between them, and the same with a
 * byte dropped, doubled or changed.  The skim that steps over a cached
 * patients list (conf_skim.c, 64 bytes at a time) is held to its
 * token-by-token self. */
#include "config.h"

#include <math.h>
#include <stdbool.h>

#include "unit.h"

#include "conf_read.h"
#include "conf_skim.h"
#include "conf_source.h"
#include "conf_text.h"

/* libconfig 1.5's scanner loses the string it is building when a text ends
 * inside it or the parse fails after it (a few bytes, on bad input only):
 * the generated texts hit that thousands of times.  LeakSanitizer is told
 * to pass over the library's own allocations; iopd's stay checked. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:libconfig.so\n";
}

#ifndef TEST_SRCDIR
#error "TEST_SRCDIR must be defined by Makefile.am"
#endif

/* ---- comparing the two trees ------------------------------------------ */

static char why[512];

static bool differ(const char *fmt, const config_setting_t *a, const config_setting_t *b)
{
	snprintf(why, sizeof why, "%s (setting %s, line %u vs %u)", fmt,
	    a->name ? a->name : "(element)", a->line, b->line);
	return false;
}

static bool same(const config_setting_t *a, const config_setting_t *b, struct conf_reader *r,
    const config_t *mine);

static bool same_members(const config_setting_t *a, const config_setting_t *b,
    struct conf_reader *r, const config_t *mine)
{
	long streamed = conf_read_count(r, b);
	int i, n = config_setting_length(a);

	if (streamed < 0) {
		if (config_setting_length(b) != n)
			return differ("member count", a, b);
		for (i = 0; i < n; i++) {
			const config_setting_t *x = config_setting_get_elem(a, (unsigned)i);
			const config_setting_t *y = config_setting_get_elem(b, (unsigned)i);
			if (y->parent != b)
				return differ("parent", x, y);
			if (!same(x, y, r, mine))
				return false;
		}
		return true;
	}
	if (config_setting_length(b) != 0 || streamed != n)
		return differ("streamed count", a, b);
	for (i = 0; i < n; i++) {
		const config_setting_t *x = config_setting_get_elem(a, (unsigned)i);
		const config_setting_t *y = conf_read_next(r, b);
		if (!y)
			return differ("streamed element missing", a, b);
		if (y->parent != b || conf_index(y) != i)
			return differ("streamed element's parent or index", x, y);
		if (!same(x, y, r, mine))
			return false;
	}
	if (conf_read_next(r, b))
		return differ("streamed element too many", a, b);
	return true;
}

static bool same(const config_setting_t *a, const config_setting_t *b, struct conf_reader *r,
    const config_t *mine)
{
	if ((a->name == NULL) != (b->name == NULL) || (a->name && strcmp(a->name, b->name)))
		return differ("name", a, b);
	if (a->type != b->type)
		return differ("type", a, b);
	if (a->line != b->line)
		return differ("line", a, b);
	if (b->config != mine)
		return differ("config", a, b);
	switch (a->type) {
	case CONFIG_TYPE_INT:
		if (a->value.ival != b->value.ival || a->format != b->format)
			return differ("int value or format", a, b);
		break;
	case CONFIG_TYPE_INT64:
		if (a->value.llval != b->value.llval || a->format != b->format)
			return differ("int64 value or format", a, b);
		break;
	case CONFIG_TYPE_FLOAT:
		if (memcmp(&a->value.fval, &b->value.fval, sizeof a->value.fval) &&
		    !(isnan(a->value.fval) && isnan(b->value.fval)))
			return differ("float value", a, b);
		break;
	case CONFIG_TYPE_BOOL:
		if (a->value.ival != b->value.ival)
			return differ("bool value", a, b);
		break;
	case CONFIG_TYPE_STRING:
		if (strcmp(a->value.sval, b->value.sval))
			return differ("string value", a, b);
		break;
	case CONFIG_TYPE_GROUP:
	case CONFIG_TYPE_LIST:
	case CONFIG_TYPE_ARRAY:
		return same_members(a, b, r, mine);
	default:
		break;
	}
	return true;
}

/* Reads text both ways.  1: both took it, the same tree; 0: both refused
 * it; 2: only libconfig took it; -1 (with why): the reader took what
 * libconfig refused, or built another tree. */
static int compare(const char *text)
{
	struct sbuf merged = {0};
	config_t lib, mine;
	struct conf_reader *r;
	int libok, rc;

	sbuf_adds(&merged, text);
	conf_text_merge(&merged, "patients");
	config_init(&lib);
	libok = config_read_string(&lib, merged.s) == CONFIG_TRUE;
	config_init(&mine);
	r = conf_read(text, strlen(text), &mine);
	if (!r)
		rc = libok ? 2 : 0;
	else if (!libok)
		rc = -1, snprintf(why, sizeof why, "libconfig refused it (%s at line %d)",
		    config_error_text(&lib), config_error_line(&lib));
	else
		rc = same(config_root_setting(&lib), conf_read_root(r), r, &mine) ? 1 : -1;
	conf_read_free(r);
	/* patients lists skimmed, then checked: the same verdict, the same tree */
	r = conf_read_lazy(text, strlen(text), &mine, true);
	if (r && conf_read_check(r) != 0) {
		conf_read_free(r);
		r = NULL;
	}
	if (rc >= 0 && (r != NULL) != (rc == 1)) {
		snprintf(why, sizeof why, "skimmed, the reader %s it", r ? "took" : "refused");
		rc = -1;
	} else if (rc == 1 && !same(config_root_setting(&lib), conf_read_root(r), r, &mine)) {
		rc = -1;
	}
	conf_read_free(r);
	config_destroy(&mine);
	config_destroy(&lib);
	sbuf_free(&merged);
	return rc;
}

#define assert_taken(text) do { \
	int rc_ = compare(text); \
	if (rc_ != 1) \
		fail_msg("%s\n---\n%s", rc_ ? why : "the reader did not take it", text); \
} while (0)

#define assert_refused(text) do { \
	if (compare(text) % 2 != 0) \
		fail_msg("%s\n---\n%s", why, text); \
} while (0)

/* ---- hand-picked texts ------------------------------------------------ */

static void test_valid(void **state)
{
	static const char *const texts[] = {
		"",
		"a = 1;",
		"a = 1\nb : 2,\nc = 3",
		"a = \"x\";\n",
		"a = \"esc \\n \\r \\t \\f \\\\ \\\" \\x41 \\X7a end\";",
		"a = \"multi\nline\";\nb = 1;",
		"a = \"one\" \"two\"\n  \"three\";",
		"a = [ \"x\",\n \"y\"\n ];",
		"a = [ \"x\" \"y\",\n /* c */ \"z\"\n\n ] ;",
		"a = ( \"x\" # c\n , 1, 2.5, true, ( ), [ ], { } );",
		"a = ( \"s\"\n // c\n );",
		"a = ( 1\n , 2\n );",
		"a = [1, 2, 3]; b = [1.5, .5, 5.]; c = [true, FALSE]; d = [10L, 20LL];",
		"a = 2147483647; b = -2147483648; c = 0x1f; d = 0XFFFFFFF; e = 7LL; f = -9223372036854775807L;",
		"a = 1e3; b = 1.e-2; c = -.5E+2; d = +1; e = -0; f = .; g = -.;",
		"a = TRUE; b = false; c = True;",
		"a = { b = { c = { d = ( { e = [ 1 ] } ) } } };",
		"*a = 1; a-b_c* = 2; A9 = 3;",
		"/* open\n comment */ a = 1; // tail\n",
		"a\n=\n1\n;\nb\n=\n{\n}\n",
		("patients = ( { id = \"a\"; }, { id = \"b\"; } );\n"
		 "x = 1;\npatients = ( { id = \"c\"; } );\npatients = ();\n"),
		"patients = [ 1, 2 ];\npatients = { a = 1; };\npatients = ( 1, \"x\", ( ), [ 3 ] );",
		"patients*2 = ( { id = \"a\"; } );",
		"g = { patients = ( { id = 1; } ); };",
		"a = \"\";\nb = [ \"\" ];",
		"a = 1 b = 2",
		"a = \"x\"\"y\";",
		"a = 1 /* x */ ; b=-1,c=(-1,+2)",
	};
	/* What libconfig takes but versions read differently: left to it. */
	static const char *const left[] = {
		"a = 2147483648;", "a = -2147483649;", "a = 99999999999999999999;", "a = 0xFFFFFFFF;",
		"a = 0x10L;", "a = 99999999999999999999L;", "a = \"\\q\";", "a = \"\\a\";",
		"a = \"\\x00\";", "a = \"\\x4\";", "a = 0b1; b1 = 2;", "a=1b=2;",
	};
	size_t i;

	(void)state;
	for (i = 0; i < IOPD_NELEM(texts); i++)
		assert_taken(texts[i]);
	for (i = 0; i < IOPD_NELEM(left); i++)
		assert_refused(left[i]);
}

static void test_refused(void **state)
{
	static const char *const texts[] = {
		"a = 1; a = 2;",               /* duplicate setting name */
		"g = { a = 1; a = 2; };",
		"patients*2 = (); patients = (); patients = ();",
		"a = [ 1, \"x\" ];",            /* mismatched element type in array */
		"a = [ 1, 10L ];",
		"a = [ 1, 0x10L ];",
		"a = [ { } ];",
		"a = [ ( ) ];",
		"a = ( 1, );",
		"a = [ 1, ];",
		"a = ( , );",

		"a = ;",
		"a = \"open",
		"a = 1; /* open",
		"a = 1; @include \"x\"",
		"a = 1;;",
		"a = 1; # a comment on the last line, no line break",
		"true = 1;",
		"1 = 2;",
		"a = { b };",
		"a = { 1 };",
		"a = ( b = 1 );",
		"a = -;",
		"a = 0x;",
		"a = $;",
		"{ }",
		"a = 1; }",
		"a = ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( "
		"( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( "
		"( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( ( "
		") ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) "
		") ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) "
		") ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) ) );",
		"patients = ( { id = \"a\"; }, { id = \"a\" id = \"b\"; } );",
		"patients = ( { id = \"a\"; }, );",
		"patients = ( { id = \"a\"; } ;",
	};
	size_t i;

	(void)state;
	for (i = 0; i < IOPD_NELEM(texts); i++)
		assert_refused(texts[i]);
}

/* The project's own configurations, includes expanded as conf_load does. */
static void check_file(const char *path)
{
	struct conf_source src;
	struct errs e = {0};
	int rc;

	if (conf_source_load(&src, path, &e) != 0)
		fail_msg("%s: %s", path, e.text.s ? e.text.s : "unreadable");
	rc = compare(src.text.s);
	if (rc != 1)
		fail_msg("%s: %s", path, rc ? why : "the reader did not take it");
	conf_source_free(&src);
	errs_free(&e);
}

static void test_files(void **state)
{
	(void)state;
	check_file(TEST_SRCDIR "/conf/iopd.conf");
	check_file(TEST_SRCDIR "/conf/demo.conf");
	check_file(TEST_SRCDIR "/tests/unit/conf/errors.conf");
}

/* ---- generated texts --------------------------------------------------- */

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static unsigned pick(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

static void blank(struct sbuf *b)
{
	static const char *const v[] = {
		"", " ", " ", "\n", "\t", "\n\n  ", "\r\n", " # note\n", " // note\n", "/* a\n b */",
		"/**/", "\f",
	};
	sbuf_adds(b, v[pick(IOPD_NELEM(v))]);
}

static void gen_scalar(struct sbuf *b, int kind)
{
	static const char *const nums[] = {
		"0", "7", "-3", "+12", "2147483647", "-2147483648", "5L", "-5LL", "0x1F", "0xfffffff",
		"1.5", ".5", "5.", "-.25", "1e3", "2.5E-3", "+1.e2", "3e+2", ".", "-0",
	};
	static const char *const strs[] = {
		"\"\"", "\"plain\"", "\"sp ace\"", "\"a\\nb\"", "\"q\\\"q\"", "\"b\\\\s\"", "\"\\x41\\x7a\"",
		"\"two\nlines\"", "\"tab\\t\"", "\"\\r\\f\"", "\"#not // a /* comment\"",
	};
	/* what libconfig takes but the reader leaves to it */
	static const char *const odd[] = {
		"2147483648", "-2147483649", "99999999999999999999", "0xffffffff", "0x7L", "\"\\x00z\"",
		"\"\\y\"", "\"\\x4g\"", "\"\\\n\"",
	};
	static const char *const bools[] = {"true", "false", "TRUE", "False", "tRuE"};

	if (!pick(40)) {
		sbuf_adds(b, odd[pick(IOPD_NELEM(odd))]);
		return;
	}
	switch (kind) {
	case 0:
		sbuf_adds(b, nums[pick(IOPD_NELEM(nums))]);
		break;
	case 1:
		sbuf_adds(b, strs[pick(IOPD_NELEM(strs))]);
		while (!pick(3)) {             /* strings side by side are one */
			blank(b);
			sbuf_adds(b, strs[pick(IOPD_NELEM(strs))]);
		}
		break;
	default:
		sbuf_adds(b, bools[pick(IOPD_NELEM(bools))]);
	}
}

static void gen_value(struct sbuf *b, int depth);

static void gen_name(struct sbuf *b)
{
	static const char *const names[] = {
		"a", "b", "id", "patients", "patients", "x-y", "n_1", "*w", "Zz", "truex", "c9", "d", "e",
		"f", "g", "h", "k", "m", "start", "phone", "program", "times", "language", "label",
	};
	sbuf_adds(b, names[pick(IOPD_NELEM(names))]);
}

static void gen_settings(struct sbuf *b, int depth, int n)
{
	static const char *const eq[] = {"=", ":"}, *const term[] = {";", ",", "", ";"};
	int i;

	for (i = 0; i < n; i++) {
		blank(b);
		gen_name(b);
		blank(b);
		sbuf_adds(b, eq[pick(2)]);
		blank(b);
		gen_value(b, depth + 1);
		blank(b);
		sbuf_adds(b, term[pick(4)]);
	}
	blank(b);
}

static void gen_elems(struct sbuf *b, int depth, bool array)
{
	int i, n = (int)pick(4), kind = (int)pick(3);

	for (i = 0; i < n; i++) {
		if (i)
			sbuf_addc(b, ',');
		blank(b);
		if (array)
			gen_scalar(b, pick(8) ? kind : (int)pick(3));
		else
			gen_value(b, depth + 1);
		blank(b);
	}
}

static void gen_value(struct sbuf *b, int depth)
{
	unsigned k = pick(depth > 3 ? 3 : 7);

	if (k < 3) {
		gen_scalar(b, (int)k);
	} else if (k == 3 || k == 4) {
		sbuf_addc(b, '(');
		gen_elems(b, depth, false);
		sbuf_addc(b, ')');
	} else if (k == 5) {
		sbuf_addc(b, '[');
		gen_elems(b, depth, true);
		sbuf_addc(b, ']');
	} else {
		sbuf_addc(b, '{');
		gen_settings(b, depth, (int)pick(4));
		sbuf_addc(b, '}');
	}
}

/* Drops, doubles or changes one byte. */
static void mutate(struct sbuf *b)
{
	static const char bytes[] = "\"\\{}()[],;=:#/*\n x1.-eL@";
	size_t at;

	if (!b->len)
		return;
	at = pick((unsigned)b->len);
	switch (pick(3)) {
	case 0:
		memmove(b->s + at, b->s + at + 1, b->len - at);
		b->len--;
		break;
	case 1:
		sbuf_addc(b, ' ');
		memmove(b->s + at + 1, b->s + at, b->len - at - 1);
		break;
	default:
		b->s[at] = bytes[pick(sizeof bytes - 1)];
	}
}

static void test_generated(void **state)
{
	int i, taken = 0, mutated_taken = 0, refused = 0, left = 0;

	(void)state;
	for (i = 0; i < 20000; i++) {
		struct sbuf b = {0};
		int rc;
		gen_settings(&b, 0, 1 + (int)pick(5));
		sbuf_addc(&b, '\n');
		if (i % 2)
			mutate(&b);
		rc = compare(b.s ? b.s : "");
		if (rc < 0)
			fail_msg("text %d: %s\n---\n%s", i, why, b.s);
		taken += rc == 1 && i % 2 == 0;
		mutated_taken += rc == 1 && i % 2;
		refused += rc == 0;
		left += rc == 2;
		if (rc == 2 && getenv("SHOW_LEFT"))
			printf("LEFT %d:\n%s\n", i, b.s);
		sbuf_free(&b);
	}
	print_message("generated: %d valid texts taken (of 10000), %d changed ones taken, %d refused "
	    "by both, %d left to libconfig\n", taken, mutated_taken, refused, left);
	/* most generated texts are valid and taken; the test means little if not */
	assert_true(taken > 5000);
	assert_true(mutated_taken > 1000);
}

/* ---- the skim ------------------------------------------------------------ */

/* conf_skim against conf_skim_tokens on one text, from each depth. */
static void skim_both(const char *text, size_t len)
{
	int depth;

	for (depth = 1; depth <= 3; depth++) {
		struct conf_skim a = {text, depth, 0}, b = {text, depth, 0};
		bool ra = conf_skim(&a, text + len), rb = conf_skim_tokens(&b, text + len);
		if (ra != rb || (ra && (a.p != b.p || a.line != b.line)))
			fail_msg("depth %d: skim %d at %td line %d, tokens %d at %td line %d\n---\n%.*s", depth,
			    ra, a.p - text, a.line, rb, b.p - text, b.line, (int)len, text);
	}
}

/* Random texts of the bytes the skim looks at, some with no backslash or
 * comment (where it takes 64 bytes at once), long strings among them. */
static void test_skim_random(void **state)
{
	static const char any[] = "\"\\\n#/*()a a ((\"\"", clean[] = "\"\n()aaaa  \"(\"a";
	char text[700];
	int i;

	(void)state;
	for (i = 0; i < 200000; i++) {
		size_t len = pick(sizeof text), j;
		const char *bytes = i % 3 ? clean : any;
		size_t nbytes = i % 3 ? sizeof clean - 1 : sizeof any - 1;
		for (j = 0; j < len; j++)
			text[j] = bytes[pick((unsigned)nbytes)];
		if (i % 7 == 0 && len > 100) {         /* a string longer than a block */
			size_t at = pick((unsigned)(len - 90));
			text[at] = '"';
			for (j = at + 1; j < at + 80; j++)
				text[j] = j % 9 ? 'x' : '\n';
			text[j] = '"';
		}
		skim_both(text, len);
	}
}

/* A patients list as admins write it: a line each, zones with a slash
 * (not a comment inside a string), here and there a comment, an escaped
 * quote or a string over two lines. */
static void test_skim_patients(void **state)
{
	struct sbuf b = {0};
	int i, lines = 0;

	(void)state;
	for (i = 0; i < 3000; i++) {
		if (i % 97 == 1)
			sbuf_adds(&b, "  # (a note) \"with a quote\n");
		sbuf_printf(&b, "  { id = \"p%06d\"; first_name = \"Pat\"; timezone = \"America/Chicago\"; "
		    "program = \"c%03d\"; medications = ( { label = \"m1\"; times = [\"07:30\"]; } ); }", i, i % 210);
		if (i % 101 == 0)
			sbuf_adds(&b, ", { id = \"q\\\"(\"; note = \"two\nlines )\"; } /* ( */");
		lines += 1 + (i % 97 == 1) + (i % 101 == 0);
		sbuf_adds(&b, i + 1 < 3000 ? ",\n" : "\n");
	}
	sbuf_adds(&b, ");\nafter = 1;\n");
	skim_both(b.s, b.len);
	{
		struct conf_skim sk = {b.s, 1, 0};
		assert_true(conf_skim(&sk, b.s + b.len));
		assert_int_equal(sk.line, lines);
		assert_string_equal(sk.p, ";\nafter = 1;\n");
	}
	sbuf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_files),
		cmocka_unit_test(test_generated),
		cmocka_unit_test(test_skim_random),
		cmocka_unit_test(test_skim_patients),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
