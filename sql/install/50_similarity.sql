-- crm install script, part 50: string similarity for fuzzy matching (src/similarity.c).

CREATE FUNCTION crm.jaro_winkler(text, text) RETURNS float8
	AS 'MODULE_PATHNAME', 'crm_jaro_winkler'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 5;
COMMENT ON FUNCTION crm.jaro_winkler(text, text) IS
	'Jaro-Winkler similarity of two strings in [0, 1], on characters (code points), case-sensitive';

CREATE FUNCTION crm.damerau_levenshtein(text, text) RETURNS int
	AS 'MODULE_PATHNAME', 'crm_damerau_levenshtein'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 10;
COMMENT ON FUNCTION crm.damerau_levenshtein(text, text) IS
	'optimal string alignment distance (insertions, deletions, substitutions, adjacent transpositions) on characters';

CREATE FUNCTION crm.damerau_levenshtein(text, text, max int) RETURNS int
	AS 'MODULE_PATHNAME', 'crm_damerau_levenshtein_max'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 5;
COMMENT ON FUNCTION crm.damerau_levenshtein(text, text, int) IS
	'optimal string alignment distance, or max + 1 as soon as it must exceed max';

CREATE FUNCTION crm.name_similarity(text, text) RETURNS float8
	AS 'MODULE_PATHNAME', 'crm_name_similarity'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 20;
COMMENT ON FUNCTION crm.name_similarity(text, text) IS
	'word-order-free similarity of two names in [0, 1]: swapped given and family names and a missing middle name still score high';

CREATE FUNCTION crm.phonetic_key(text) RETURNS text
	AS 'MODULE_PATHNAME', 'crm_phonetic_key'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 20;
COMMENT ON FUNCTION crm.phonetic_key(text) IS
	'sound-alike key of a name in any script: transliterated to ASCII, then each word coded by metaphone-style rules';
