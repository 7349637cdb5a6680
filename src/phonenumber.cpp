/*
 * phonenumber.cpp
 *	  The only C++ in crm: a thin shim over Google's libphonenumber.
 *
 * PostgreSQL reports errors with longjmp, which must never unwind C++
 * frames, and libphonenumber may throw (std::bad_alloc at least).  So this
 * file is a wall: every exported function is extern "C", catches every
 * exception (catch (...)) and turns it into a status code, and nothing here
 * calls into the server (no palloc, no ereport).  src/phone.c turns the
 * status codes into PostgreSQL errors; test/fuzz/phone_fuzz.c links this
 * file alone.  The interface is documented in phonenumber.h.
 *
 * The rules added on top of libphonenumber's Parse() are few and each is
 * here because a type input must be stricter than a text scanner:
 *	- text in exact E.164 form (the type's output) is read digit for digit,
 *	  so every stored value reads back to itself (see ReadStrictE164);
 *	- letters before the number are refused ("call 415 555 2671" would
 *	  otherwise be read as a number); an RFC 3966 "tel:" prefix is allowed;
 *	- a number written with the "00" international prefix is read as if 00
 *	  were "+" when it is not valid as written for the default region, so
 *	  "0044 20 7946 0958" works under a US default (whose prefix is 011)
 *	  and with no default region at all;
 *	- the validation level is applied here (crm.phone_validation), with the
 *	  reason reported when it fails;
 *	- extensions are normalized to ASCII digits and limited to what the
 *	  compact form stores.
 *
 * The backend is single-threaded, so the parse buffers are function-level
 * statics reused from call to call: after the first few calls the shim
 * itself allocates nothing; what remains is libphonenumber's own work.
 */
#include "phonenumber.h"

#include <cstring>
#include <exception>
#include <new>
#include <string>

#include <phonenumbers/phonenumber.pb.h>
#include <phonenumbers/phonenumberutil.h>
#include <unicode/uchar.h>
#include <unicode/utf8.h>

using i18n::phonenumbers::PhoneNumber;
using i18n::phonenumbers::PhoneNumberUtil;

namespace
{

/* libphonenumber's region code for "none"; its Parse() wants a string. */
const char kUnknownRegion[] = "ZZ";

const PhoneNumberUtil &
Util()
{
	/* A singleton inside the library; built on first use, never freed. */
	static const PhoneNumberUtil *util = PhoneNumberUtil::GetInstance();

	return *util;
}

/* Scratch objects reused by every call (one backend, one thread). */
struct Scratch
{
	std::string text;
	std::string retry;
	std::string region;
	std::string work;
	std::string cc_region;
	std::string prefix;
	std::string e164;
	std::string match_a;
	std::string match_b;
	PhoneNumber number;
	PhoneNumber other;
};

Scratch &
Buffers()
{
	static Scratch scratch;

	return scratch;
}

const uint64_t kPow10[] = {
	1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL,
	10000000ULL, 100000000ULL, 1000000000ULL, 10000000000ULL,
	100000000000ULL, 1000000000000ULL, 10000000000000ULL,
	100000000000000ULL, 1000000000000000ULL, 10000000000000000ULL,
	100000000000000000ULL
};

int
DecimalDigits(uint64_t v)
{
	int			n = 1;

	while (n < 20 && v >= 10)
	{
		v /= 10;
		n++;
	}
	return n;
}

bool
AsciiSpace(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
		c == '\f' || c == '\v';
}

/*
 * Checks made before libphonenumber sees the text: empty, too long, or
 * letters in front of the number.  Text with no digit at all is left to
 * libphonenumber (vanity numbers such as "1-800-FLOWERS" start with digits,
 * so letters first and digits later is the only case refused here).
 * *start receives the offset just past leading white space and an optional
 * "tel:", and *plus whether the number carries a plus sign (ASCII or full
 * width) anywhere.
 */
CrmPnStatus
PreCheck(const char *text, size_t len, size_t *start, bool *plus)
{
	size_t		i = 0;
	int32_t		pos;
	int32_t		ilen;
	bool		letters = false;

	*plus = false;
	if (len > CRM_PN_MAX_INPUT)
		return CRM_PN_INPUT_TOO_LONG;
	while (i < len && AsciiSpace(text[i]))
		i++;
	if (i == len)
		return CRM_PN_EMPTY;
	if (len - i >= 4 && strncasecmp(text + i, "tel:", 4) == 0)
		i += 4;
	*start = i;

	/* len <= CRM_PN_MAX_INPUT, so it fits ICU's int32_t offsets. */
	pos = static_cast<int32_t>(i);
	ilen = static_cast<int32_t>(len);
	while (pos < ilen)
	{
		UChar32		c;

		U8_NEXT(text, pos, ilen, c);
		if (c < 0)
			return CRM_PN_NOT_A_NUMBER; /* invalid UTF-8 */
		if (c == '+' || c == 0xFF0B || u_isdigit(c))
		{
			if (letters)
				return CRM_PN_LEADING_TEXT;
			break;
		}
		if (u_isalpha(c))
			letters = true;
	}
	for (size_t j = 0; j < len && !*plus; j++)
		*plus = text[j] == '+' ||
			(j + 2 < len && memcmp(text + j, "\xEF\xBC\x8B", 3) == 0);
	return CRM_PN_OK;
}

/*
 * If the number (after offset start) begins with "00" before any other
 * digit or plus sign, write into *out the text with that "00" replaced by
 * "+" and return true.
 */
bool
DoubleZeroAsPlus(const char *text, size_t len, size_t start, std::string *out)
{
	size_t		i;

	for (i = start; i < len; i++)
	{
		unsigned char c = static_cast<unsigned char>(text[i]);

		if (c >= '0' && c <= '9')
			break;
		if (c == '+' || c >= 0x80)
			return false;
	}
	if (i + 1 >= len || text[i] != '0' || text[i + 1] != '0')
		return false;
	out->assign(text, i);
	out->push_back('+');
	out->append(text + i + 2, len - i - 2);
	return true;
}

CrmPnStatus
FromParseError(PhoneNumberUtil::ErrorType err, bool have_region, bool plus)
{
	switch (err)
	{
		case PhoneNumberUtil::NO_PARSING_ERROR:
			return CRM_PN_OK;
		case PhoneNumberUtil::INVALID_COUNTRY_CODE_ERROR:
			return (have_region || plus) ? CRM_PN_INVALID_COUNTRY_CODE
				: CRM_PN_NO_COUNTRY_CODE;
		case PhoneNumberUtil::NOT_A_NUMBER:
			return CRM_PN_NOT_A_NUMBER;
		case PhoneNumberUtil::TOO_SHORT_AFTER_IDD:
			return CRM_PN_TOO_SHORT_AFTER_IDD;
		case PhoneNumberUtil::TOO_SHORT_NSN:
			return CRM_PN_TOO_SHORT;
		case PhoneNumberUtil::TOO_LONG_NSN:
			return CRM_PN_TOO_LONG;
	}
	return CRM_PN_NOT_A_NUMBER;
}

CrmPnStatus
FromValidation(PhoneNumberUtil::ValidationResult r)
{
	switch (r)
	{
		case PhoneNumberUtil::IS_POSSIBLE:
			return CRM_PN_OK;
		case PhoneNumberUtil::IS_POSSIBLE_LOCAL_ONLY:
			return CRM_PN_LOCAL_ONLY;
		case PhoneNumberUtil::INVALID_COUNTRY_CODE:
			return CRM_PN_INVALID_COUNTRY_CODE;
		case PhoneNumberUtil::TOO_SHORT:
			return CRM_PN_TOO_SHORT;
		case PhoneNumberUtil::INVALID_LENGTH:
			return CRM_PN_INVALID_LENGTH;
		case PhoneNumberUtil::TOO_LONG:
			return CRM_PN_TOO_LONG;
	}
	return CRM_PN_NOT_VALID;
}

/* Apply the validation level to a parsed number. */
CrmPnStatus
Validate(const PhoneNumber &n, CrmPnValidation mode)
{
	const PhoneNumberUtil &util = Util();
	CrmPnStatus st;

	if (mode == CRM_PN_VALID && util.IsValidNumber(n))
		return CRM_PN_OK;
	st = FromValidation(util.IsPossibleNumberWithReason(n));
	if (st == CRM_PN_OK && mode == CRM_PN_VALID)
		return CRM_PN_NOT_VALID;
	return st;
}

/*
 * Convert a parsed number into the compact form.  Fails only for an
 * extension longer than the compact form holds.
 */
CrmPnStatus
ToCompact(const PhoneNumber &n, CrmPnNumber *out)
{
	memset(out, 0, sizeof(*out));
	out->country_code = static_cast<uint16_t>(n.country_code());
	out->national = n.national_number();
	if (n.italian_leading_zero())
		out->leading_zeros = static_cast<uint8_t>(n.number_of_leading_zeros());
	if (n.has_extension() && !n.extension().empty())
	{
		std::string &ext = Buffers().work;
		uint32_t	v = 0;

		/* Extensions may be written in any script's digits. */
		ext = n.extension();
		Util().NormalizeDigitsOnly(&ext);
		if (ext.size() > CRM_PN_MAX_EXT_DIGITS)
			return CRM_PN_EXTENSION_TOO_LONG;
		for (char c : ext)
			v = v * 10 + static_cast<uint32_t>(c - '0');
		out->extension = v;
		out->ext_digits = static_cast<uint8_t>(ext.size());
	}
	return CRM_PN_OK;
}

/* Is the compact form canonical, as ToCompact() makes it? */
bool
Canonical(const CrmPnNumber *num)
{
	int			nsn_digits;

	if (num->country_code < 1 || num->country_code > 999)
		return false;
	if (num->national >= kPow10[CRM_PN_MAX_NSN_DIGITS])
		return false;
	nsn_digits = DecimalDigits(num->national) + num->leading_zeros;
	if (nsn_digits < 2 || nsn_digits > CRM_PN_MAX_NSN_DIGITS)
		return false;
	if (num->ext_digits > CRM_PN_MAX_EXT_DIGITS)
		return false;
	if (num->ext_digits == 0 ? num->extension != 0
		: num->extension >= kPow10[num->ext_digits])
		return false;
	return true;
}

/* Build libphonenumber's form of a compact number into the scratch object. */
PhoneNumber &
FromCompact(const CrmPnNumber *num)
{
	PhoneNumber &n = Buffers().number;

	n.Clear();
	n.set_country_code(num->country_code);
	n.set_national_number(num->national);
	if (num->leading_zeros > 0)
	{
		n.set_italian_leading_zero(true);
		if (num->leading_zeros > 1)
			n.set_number_of_leading_zeros(num->leading_zeros);
	}
	if (num->ext_digits > 0)
	{
		char		buf[CRM_PN_MAX_EXT_DIGITS + 1];
		uint32_t	v = num->extension;

		for (int i = num->ext_digits - 1; i >= 0; i--)
		{
			buf[i] = static_cast<char>('0' + v % 10);
			v /= 10;
		}
		n.set_extension(buf, num->ext_digits);
	}
	return n;
}

/* Write digits of v, preceded by zeros leading zeros, at p; return the end. */
char *
PutDigits(char *p, uint64_t v, int zeros, int min_digits)
{
	char		tmp[20];
	int			n = 0;

	while (zeros-- > 0)
		*p++ = '0';
	do
	{
		tmp[n++] = static_cast<char>('0' + v % 10);
		v /= 10;
	} while (v > 0);
	while (n < min_digits && n < 20)
		tmp[n++] = '0';
	while (n > 0)
		*p++ = tmp[--n];
	return p;
}

/* E.164, optionally followed by ";ext=" and the extension. */
void
WriteE164(const CrmPnNumber *num, char *buf, bool with_extension)
{
	char	   *p = buf;

	*p++ = '+';
	p = PutDigits(p, num->country_code, 0, 1);
	p = PutDigits(p, num->national, num->leading_zeros, 1);
	if (with_extension && num->ext_digits > 0)
	{
		memcpy(p, ";ext=", 5);
		p = PutDigits(p + 5, num->extension, 0, num->ext_digits);
	}
	*p = '\0';
}

CrmPnStatus
CopyOut(const std::string &s, char *buf)
{
	if (s.size() >= CRM_PN_FORMAT_BUFSIZE)
		return CRM_PN_INTERNAL;
	memcpy(buf, s.data(), s.size());
	buf[s.size()] = '\0';
	return CRM_PN_OK;
}

CrmPnStatus
CopyRegion(const std::string &region, char *buf)
{
	if (region == kUnknownRegion || region.size() > 3)
		buf[0] = '\0';
	else
		memcpy(buf, region.c_str(), region.size() + 1);
	return CRM_PN_OK;
}

/*
 * Can libphonenumber parse s without a default region (what
 * IsNumberMatchWithTwoStrings does)?  If not, say why in *why.
 */
bool
ParsesWithoutRegion(const std::string &s, CrmPnStatus *why)
{
	const PhoneNumberUtil &util = Util();
	PhoneNumber &n = Buffers().number;
	PhoneNumberUtil::ErrorType err;
	std::string &digits = Buffers().work;

	err = util.Parse(s, kUnknownRegion, &n);
	if (err == PhoneNumberUtil::NO_PARSING_ERROR)
		return true;
	if (err != PhoneNumberUtil::INVALID_COUNTRY_CODE_ERROR)
	{
		*why = FromParseError(err, true, false);
		return false;
	}
	/* A number without country code matches on its national number. */
	if (util.IsNumberMatchWithTwoStrings(s, s) != PhoneNumberUtil::INVALID_NUMBER)
		return true;
	digits = s;
	util.NormalizeDigitsOnly(&digits);
	if (s.find('+') != std::string::npos)
		*why = CRM_PN_INVALID_COUNTRY_CODE;
	else if (digits.size() < 2)
		*why = CRM_PN_TOO_SHORT;
	else if (digits.size() > CRM_PN_MAX_NSN_DIGITS)
		*why = CRM_PN_TOO_LONG;
	else
		*why = CRM_PN_NOT_A_NUMBER;
	return false;
}

CrmPnMatch
FromMatch(PhoneNumberUtil::MatchType m)
{
	switch (m)
	{
		case PhoneNumberUtil::EXACT_MATCH:
			return CRM_PN_MATCH_EXACT;
		case PhoneNumberUtil::NSN_MATCH:
			return CRM_PN_MATCH_NSN;
		case PhoneNumberUtil::SHORT_NSN_MATCH:
			return CRM_PN_MATCH_SHORT_NSN;
		default:
			return CRM_PN_MATCH_NONE;
	}
}

/*
 * Could libphonenumber read "+<cc><national number>" as something else?
 * Parse() strips a national prefix from the national number when what
 * remains is still a possible number, so a number whose national digits
 * begin with zeros or with its country's national prefix ("8" in Russia)
 * is read back differently by the library than digit for digit.
 */
bool
MayLoseNationalPrefix(const CrmPnNumber *num)
{
	const PhoneNumberUtil &util = Util();
	std::string &region = Buffers().cc_region;
	std::string &prefix = Buffers().prefix;
	char		nsn[CRM_PN_MAX_NSN_DIGITS + 24];
	char	   *end;

	if (num->leading_zeros > 0)
		return true;
	region.clear();
	util.GetRegionCodeForCountryCode(num->country_code, &region);
	prefix.clear();
	util.GetNddPrefixForRegion(region, true, &prefix);
	if (prefix.empty())
		return false;
	end = PutDigits(nsn, num->national, 0, 1);
	return static_cast<size_t>(end - nsn) >= prefix.size() &&
		memcmp(nsn, prefix.data(), prefix.size()) == 0;
}

/*
 * Make a parsed number one that reads back to itself: while the library
 * would read its E.164 form as another number, take that number (checked
 * again).  Only numbers MayLoseNationalPrefix() flags are re-read, so the
 * common case costs nothing.
 */
CrmPnStatus
Stabilize(CrmPnNumber *num, CrmPnValidation mode)
{
	char		buf[CRM_PN_FORMAT_BUFSIZE];
	std::string &text = Buffers().e164;
	PhoneNumber &n = Buffers().number;
	CrmPnNumber again;
	CrmPnStatus st;

	for (int i = 0; i < 3; i++)
	{
		if (!MayLoseNationalPrefix(num))
			return CRM_PN_OK;
		WriteE164(num, buf, true);
		text.assign(buf);
		if (Util().Parse(text, kUnknownRegion, &n) != PhoneNumberUtil::NO_PARSING_ERROR)
			return CRM_PN_UNSTABLE;
		st = ToCompact(n, &again);
		if (st != CRM_PN_OK)
			return st;
		if (memcmp(&again, num, sizeof(again)) == 0)
			return CRM_PN_OK;
		st = Validate(n, mode);
		if (st != CRM_PN_OK)
			return st;
		*num = again;
	}
	return CRM_PN_UNSTABLE;
}

/*
 * Read text that is exactly E.164 ("+" and digits, optionally ";ext=" and
 * digits; the type's own output) digit for digit into *out: the country
 * code is the one prefix of 1 to 3 digits that is assigned (assigned codes
 * are prefix-free), the rest is the national number with its leading zeros
 * counted as libphonenumber counts them.  Returns false when the text is
 * not of that form or does not fit; the caller then uses the full parser.
 *
 * This is what makes output read back to the same value: libphonenumber's
 * Parse() may strip a national prefix from "+<cc>0...", so its result,
 * printed and parsed again, can differ from itself.  It also spares
 * COPY and restore of stored numbers the cost of the full parser.
 */
bool
ReadStrictE164(const char *text, size_t len, CrmPnNumber *out)
{
	const PhoneNumberUtil &util = Util();
	std::string &region = Buffers().cc_region;
	size_t		i;
	size_t		nsn_start;
	size_t		nsn_end;
	size_t		zeros;
	int			cc = 0;
	uint64_t	national = 0;

	if (len < 4 || text[0] != '+')
		return false;
	for (nsn_end = 1; nsn_end < len && text[nsn_end] >= '0' && text[nsn_end] <= '9'; nsn_end++)
		;
	/* Find the country code. */
	for (i = 1; i <= 3 && i < nsn_end; i++)
	{
		cc = cc * 10 + (text[i] - '0');
		if (cc == 0)
			return false;
		region.clear();
		util.GetRegionCodeForCountryCode(cc, &region);
		if (region != kUnknownRegion)
			break;
	}
	if (i > 3 || i >= nsn_end)
		return false;
	nsn_start = i + 1;
	if (nsn_end - nsn_start < 2 || nsn_end - nsn_start > CRM_PN_MAX_NSN_DIGITS)
		return false;
	memset(out, 0, sizeof(*out));
	out->country_code = static_cast<uint16_t>(cc);
	for (zeros = 0; nsn_start + zeros < nsn_end - 1 && text[nsn_start + zeros] == '0'; zeros++)
		;
	out->leading_zeros = static_cast<uint8_t>(zeros);
	for (i = nsn_start; i < nsn_end; i++)
		national = national * 10 + static_cast<uint64_t>(text[i] - '0');
	out->national = national;
	if (nsn_end == len)
		return true;
	/* ";ext=" and 1 to CRM_PN_MAX_EXT_DIGITS digits, nothing else */
	if (len - nsn_end < 6 || memcmp(text + nsn_end, ";ext=", 5) != 0 ||
		len - nsn_end - 5 > CRM_PN_MAX_EXT_DIGITS)
		return false;
	for (i = nsn_end + 5; i < len; i++)
	{
		if (text[i] < '0' || text[i] > '9')
			return false;
		out->extension = out->extension * 10 + static_cast<uint32_t>(text[i] - '0');
	}
	out->ext_digits = static_cast<uint8_t>(len - nsn_end - 5);
	return true;
}

/* Parse once, for crm_pn_parse: the region, the text as given. */
CrmPnStatus
ParseOnce(const std::string &text, const std::string &region, bool plus,
		  CrmPnValidation mode, CrmPnNumber *out)
{
	PhoneNumber &n = Buffers().number;
	PhoneNumberUtil::ErrorType err;
	CrmPnStatus st;
	CrmPnStatus ext;

	err = Util().Parse(text, region, &n);
	if (err != PhoneNumberUtil::NO_PARSING_ERROR)
		return FromParseError(err, region != kUnknownRegion, plus);
	ext = ToCompact(n, out);
	st = Validate(n, mode);
	if (st == CRM_PN_OK)
		st = Stabilize(out, mode);
	return st != CRM_PN_OK ? st : ext;
}

}								/* namespace */

extern "C" void
crm_pn_preload(void)
{
	try
	{
		CrmPnNumber num;

		/* One parse compiles the regular expressions every parse uses. */
		(void) crm_pn_parse("+1 650 253 0000 ext. 1", 22, "", CRM_PN_VALID, &num);
	}
	catch (...)
	{
		/* nothing to do: the first real call builds it again */
	}
}

extern "C" CrmPnStatus
crm_pn_parse(const char *text, size_t len, const char *region,
			 CrmPnValidation mode, CrmPnNumber *out)
{
	try
	{
		Scratch    &b = Buffers();
		size_t		start = 0;
		bool		plus = false;
		CrmPnStatus st;

		memset(out, 0, sizeof(*out));
		if (len <= CRM_PN_MAX_INPUT && ReadStrictE164(text, len, out) &&
			!MayLoseNationalPrefix(out) &&
			Validate(FromCompact(out), mode) == CRM_PN_OK)
			return CRM_PN_OK;
		memset(out, 0, sizeof(*out));
		st = PreCheck(text, len, &start, &plus);
		if (st != CRM_PN_OK)
			return st;
		b.region.assign(region[0] ? region : kUnknownRegion);
		/* Without a region, "00..." can only mean "+...": parse that at once. */
		if (!region[0] && !plus && DoubleZeroAsPlus(text, len, start, &b.retry))
			return ParseOnce(b.retry, b.region, true, mode, out);
		b.text.assign(text, len);
		st = ParseOnce(b.text, b.region, plus, mode, out);
		if (st == CRM_PN_OK || st == CRM_PN_EXTENSION_TOO_LONG || plus ||
			!DoubleZeroAsPlus(text, len, start, &b.retry))
			return st;
		/* "0044 ..." that the region did not read as international */
		return ParseOnce(b.retry, b.region, true, mode, out);
	}
	catch (const std::bad_alloc &)
	{
		return CRM_PN_NO_MEMORY;
	}
	catch (...)
	{
		return CRM_PN_INTERNAL;
	}
}

extern "C" CrmPnStatus
crm_pn_check(const CrmPnNumber *num, CrmPnValidation mode)
{
	try
	{
		std::string region;
		CrmPnNumber copy;
		CrmPnStatus st;

		if (!Canonical(num))
			return CRM_PN_CORRUPT;
		Util().GetRegionCodeForCountryCode(num->country_code, &region);
		if (region == kUnknownRegion)
			return CRM_PN_INVALID_COUNTRY_CODE;
		st = Validate(FromCompact(num), mode);
		if (st != CRM_PN_OK)
			return st;
		/* Only values text input can produce: they survive dump and restore. */
		copy = *num;
		st = Stabilize(&copy, mode);
		if (st == CRM_PN_OK && memcmp(&copy, num, sizeof(copy)) != 0)
			st = CRM_PN_UNSTABLE;
		return st;
	}
	catch (const std::bad_alloc &)
	{
		return CRM_PN_NO_MEMORY;
	}
	catch (...)
	{
		return CRM_PN_INTERNAL;
	}
}

extern "C" int
crm_pn_region_known(const char *region)
{
	try
	{
		std::string &r = Buffers().region;

		r.assign(region);
		/* "001" (non-geographic) and "ZZ" have no calling code of their own */
		return r.size() == 2 && r != kUnknownRegion &&
			Util().GetCountryCodeForRegion(r) != 0;
	}
	catch (...)
	{
		return 0;
	}
}

extern "C" void
crm_pn_to_text(const CrmPnNumber *num, char *buf)
{
	/* Plain C code that cannot throw: no library call, no allocation. */
	WriteE164(num, buf, true);
}

extern "C" CrmPnStatus
crm_pn_format(const CrmPnNumber *num, CrmPnFormat format, char *buf)
{
	try
	{
		std::string &s = Buffers().work;

		if (format == CRM_PN_FORMAT_E164)
		{
			/* E.164 has no extension; no need for the library. */
			WriteE164(num, buf, false);
			return CRM_PN_OK;
		}
		s.clear();
		Util().Format(FromCompact(num),
					  format == CRM_PN_FORMAT_INTERNATIONAL ? PhoneNumberUtil::INTERNATIONAL :
					  format == CRM_PN_FORMAT_NATIONAL ? PhoneNumberUtil::NATIONAL :
					  PhoneNumberUtil::RFC3966, &s);
		return CopyOut(s, buf);
	}
	catch (const std::bad_alloc &)
	{
		return CRM_PN_NO_MEMORY;
	}
	catch (...)
	{
		return CRM_PN_INTERNAL;
	}
}

extern "C" CrmPnStatus
crm_pn_region(const CrmPnNumber *num, char *buf)
{
	try
	{
		std::string &s = Buffers().work;

		s.clear();
		Util().GetRegionCodeForNumber(FromCompact(num), &s);
		return CopyRegion(s, buf);
	}
	catch (const std::bad_alloc &)
	{
		return CRM_PN_NO_MEMORY;
	}
	catch (...)
	{
		return CRM_PN_INTERNAL;
	}
}

extern "C" CrmPnStatus
crm_pn_region_for_country_code(int country_code, char *buf)
{
	try
	{
		std::string &s = Buffers().work;

		s.clear();
		Util().GetRegionCodeForCountryCode(country_code, &s);
		return CopyRegion(s, buf);
	}
	catch (const std::bad_alloc &)
	{
		return CRM_PN_NO_MEMORY;
	}
	catch (...)
	{
		return CRM_PN_INTERNAL;
	}
}

extern "C" CrmPnStatus
crm_pn_type(const CrmPnNumber *num, CrmPnType *type)
{
	try
	{
		PhoneNumberUtil::PhoneNumberType t;

		t = Util().GetNumberType(FromCompact(num));
		if (t < PhoneNumberUtil::FIXED_LINE || t > PhoneNumberUtil::UNKNOWN)
			t = PhoneNumberUtil::UNKNOWN;
		/* CrmPnType lists the library's values in the library's order. */
		*type = static_cast<CrmPnType>(static_cast<int>(t) -
									   static_cast<int>(PhoneNumberUtil::FIXED_LINE));
		return CRM_PN_OK;
	}
	catch (const std::bad_alloc &)
	{
		return CRM_PN_NO_MEMORY;
	}
	catch (...)
	{
		return CRM_PN_INTERNAL;
	}
}

extern "C" CrmPnStatus
crm_pn_match(const char *a, size_t alen, const char *b, size_t blen,
			 CrmPnMatch *match, int *which)
{
	try
	{
		const char *texts[2] = {a, b};
		size_t		lens[2] = {alen, blen};
		std::string &sa = Buffers().match_a;
		std::string &sb = Buffers().match_b;
		PhoneNumberUtil::MatchType m;
		CrmPnStatus why = CRM_PN_NOT_A_NUMBER;

		*which = 0;
		*match = CRM_PN_MATCH_NONE;
		for (int i = 0; i < 2; i++)
		{
			size_t		start;
			bool		plus;
			CrmPnStatus st = PreCheck(texts[i], lens[i], &start, &plus);

			if (st != CRM_PN_OK)
			{
				*which = i + 1;
				return st;
			}
		}
		sa.assign(a, alen);
		sb.assign(b, blen);
		m = Util().IsNumberMatchWithTwoStrings(sa, sb);
		if (m != PhoneNumberUtil::INVALID_NUMBER)
		{
			*match = FromMatch(m);
			return CRM_PN_OK;
		}
		/* Say which text could not be parsed, and why. */
		if (!ParsesWithoutRegion(sa, &why))
			*which = 1;
		else if (!ParsesWithoutRegion(sb, &why))
			*which = 2;
		else
		{
			*which = 1;
			why = CRM_PN_NOT_A_NUMBER;
		}
		return why;
	}
	catch (const std::bad_alloc &)
	{
		return CRM_PN_NO_MEMORY;
	}
	catch (...)
	{
		return CRM_PN_INTERNAL;
	}
}

extern "C" CrmPnStatus
crm_pn_match_numbers(const CrmPnNumber *a, const CrmPnNumber *b,
					 CrmPnMatch *match)
{
	try
	{
		PhoneNumber &first = Buffers().other;

		first = FromCompact(a);
		*match = FromMatch(Util().IsNumberMatch(first, FromCompact(b)));
		return CRM_PN_OK;
	}
	catch (const std::bad_alloc &)
	{
		return CRM_PN_NO_MEMORY;
	}
	catch (...)
	{
		return CRM_PN_INTERNAL;
	}
}

extern "C" CrmPnStatus
crm_pn_match_number(const CrmPnNumber *a, const char *b, size_t blen,
					CrmPnMatch *match)
{
	try
	{
		std::string &sb = Buffers().match_b;
		PhoneNumber &first = Buffers().other;
		PhoneNumberUtil::MatchType m;
		size_t		start;
		bool		plus;
		CrmPnStatus st;
		CrmPnStatus why = CRM_PN_NOT_A_NUMBER;

		*match = CRM_PN_MATCH_NONE;
		st = PreCheck(b, blen, &start, &plus);
		if (st != CRM_PN_OK)
			return st;
		sb.assign(b, blen);
		first = FromCompact(a);
		m = Util().IsNumberMatchWithOneString(first, sb);
		if (m != PhoneNumberUtil::INVALID_NUMBER)
		{
			*match = FromMatch(m);
			return CRM_PN_OK;
		}
		if (!ParsesWithoutRegion(sb, &why))
			return why;
		return CRM_PN_NOT_A_NUMBER;
	}
	catch (const std::bad_alloc &)
	{
		return CRM_PN_NO_MEMORY;
	}
	catch (...)
	{
		return CRM_PN_INTERNAL;
	}
}
