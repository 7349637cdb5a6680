-- crm install script, part 54: training a matcher (Fellegi-Sunter m and u
-- probabilities and the prior) on a table, without labels or with them.
--
-- u = P(level | different entities) is counted on pseudo-random pairs,
-- which are almost all non-matches.  m = P(level | same entity) is
-- estimated by expectation-maximisation on the candidate pairs of each
-- blocking rule in turn, leaving out the fields that rule blocks on (they
-- agree by construction there), and averaged over the rules.  The prior is
-- the match rate EM finds among all candidate pairs, spread over all
-- possible pairs.  With labelled pairs, m is counted on the labelled
-- matches instead of estimated.

CREATE FUNCTION crm.train_matcher(source regclass, mapping jsonb DEFAULT NULL,
								  labels regclass DEFAULT NULL, max_pairs int DEFAULT 300000)
	RETURNS bigint
	LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
	m jsonb;
	kinds text[];
	nf int;
	nlev int[] := '{}';
	off int[] := '{}';
	nw int := 0;
	n bigint;
	allpairs numeric;
	npairs bigint;
	u float8[];
	mdef float8[];
	msum float8[];
	mcnt int[];
	mcur float8[];
	mnew float8[];
	ssum float8[];
	w float8[];
	lam float8;
	lam_cand float8;
	ncand bigint;
	nrules int;
	rule_kinds text[];
	masked text[];
	rno int;
	iters int;
	delta float8;
	tot float8;
	rr record;
	em_stats jsonb := '[]';
	new_params jsonb;
	fields_params jsonb := '{}';
	defaults jsonb := crm.match_default_params();
	new_id bigint;
	rule_pairs bigint;
	rule_counts bigint[];
	rule_masks jsonb := '[]';
	msum_nc float8[];
	mcnt_nc int[];
	converged bool;
	nrows bigint;
	frac float8;
	nsample bigint;
	nlab bigint;
BEGIN
	IF max_pairs IS NULL OR max_pairs < 1000 THEN
		RAISE EXCEPTION 'max_pairs must be at least 1000' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	m := crm.match_mapping(source, mapping);
	kinds := crm._match_mapping_kinds(m);
	nf := pg_catalog.cardinality(kinds);
	FOR f IN 1..nf LOOP
		nlev := nlev || pg_catalog.cardinality(crm.match_kind_levels(kinds[f]));
		off := off || nw;
		nw := nw + nlev[f];
	END LOOP;
	-- Flat per-level arrays (1-based; field f level l at off[f] + l + 1).
	mdef := ARRAY(SELECT (defaults -> k.kind -> 'm' ->> (g - 1))::float8
					FROM pg_catalog.unnest(kinds) WITH ORDINALITY AS k(kind, o),
						 pg_catalog.generate_series(1, pg_catalog.cardinality(crm.match_kind_levels(k.kind))) AS g
				   ORDER BY k.o, g);
	u := ARRAY(SELECT (defaults -> k.kind -> 'u' ->> (g - 1))::float8
				 FROM pg_catalog.unnest(kinds) WITH ORDINALITY AS k(kind, o),
					  pg_catalog.generate_series(1, pg_catalog.cardinality(crm.match_kind_levels(k.kind))) AS g
				ORDER BY k.o, g);

	-- Left over when an earlier call in this transaction failed and was caught.
	IF pg_catalog.to_regclass('pg_temp.crm_train_rec') IS NOT NULL THEN DROP TABLE pg_temp.crm_train_rec; END IF;
	IF pg_catalog.to_regclass('pg_temp.crm_train_pairs') IS NOT NULL THEN DROP TABLE pg_temp.crm_train_pairs; END IF;
	IF pg_catalog.to_regclass('pg_temp.crm_train_pat') IS NOT NULL THEN DROP TABLE pg_temp.crm_train_pat; END IF;
	EXECUTE pg_catalog.format('CREATE TEMP TABLE crm_train_rec ON COMMIT DROP AS %s', crm._match_records_sql(m));
	CREATE UNIQUE INDEX ON pg_temp.crm_train_rec (rid);
	ANALYZE pg_temp.crm_train_rec;
	SELECT pg_catalog.count(*) INTO n FROM pg_temp.crm_train_rec;
	IF n < 10 THEN
		RAISE EXCEPTION 'too few records to train a matcher: %', n
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Training needs at least 10 records; the shipped defaults are used until then.';
	END IF;
	allpairs := n::numeric * (n - 1) / 2;

	-- u: level frequencies among pseudo-random pairs (deterministic).
	IF allpairs <= max_pairs THEN
		CREATE TEMP TABLE crm_train_pat ON COMMIT DROP AS
			SELECT crm.match_levels(kinds, a.f, b.f) AS lv, pg_catalog.count(*) AS n
			  FROM pg_temp.crm_train_rec a JOIN pg_temp.crm_train_rec b ON a.rid < b.rid
			 GROUP BY 1;
	ELSE
		CREATE TEMP TABLE crm_train_pat ON COMMIT DROP AS
			SELECT crm.match_levels(kinds, a.f, b.f) AS lv, pg_catalog.count(*) AS n
			  FROM (SELECT 1 + (pg_catalog.hashint8(g) & 2147483647) % n AS x,
						   1 + (pg_catalog.hashint8(-g - 1) & 2147483647) % n AS y
					  FROM pg_catalog.generate_series(1, max_pairs) AS g) s
			  JOIN pg_temp.crm_train_rec a ON a.rid = s.x
			  JOIN pg_temp.crm_train_rec b ON b.rid = s.y
			 WHERE s.x <> s.y
			 GROUP BY 1;
	END IF;
	SELECT pg_catalog.sum(p.n) INTO npairs FROM pg_temp.crm_train_pat p;
	ssum := pg_catalog.array_fill(0::float8, ARRAY[nw]);
	FOR rr IN SELECT x.f::int AS f, x.l::int AS l, pg_catalog.sum(p.n)::float8 AS c
				FROM pg_temp.crm_train_pat p, pg_catalog.unnest(p.lv) WITH ORDINALITY AS x(l, f)
			   WHERE x.l >= 0 GROUP BY 1, 2 LOOP
		ssum[off[rr.f] + rr.l + 1] := rr.c;
	END LOOP;
	FOR f IN 1..nf LOOP
		tot := 0;
		FOR l IN 1..nlev[f] LOOP tot := tot + ssum[off[f] + l]; END LOOP;
		CONTINUE WHEN tot = 0;
		FOR l IN 1..nlev[f] LOOP
			-- Half a pair for levels never seen keeps every u above zero.
			u[off[f] + l] := greatest(ssum[off[f] + l], 0.5) / (tot + 0.5 * nlev[f]);
		END LOOP;
	END LOOP;
	DROP TABLE pg_temp.crm_train_pat;

	-- Candidate pairs per blocking rule.
	EXECUTE pg_catalog.format(
		'CREATE TEMP TABLE crm_train_pairs ON COMMIT DROP AS WITH rec AS (SELECT * FROM pg_temp.crm_train_rec), %s SELECT * FROM pairs',
		crm._match_pairs_sql(m, true));
	nrules := pg_catalog.jsonb_array_length(m -> 'blocking');
	-- The field kinds each rule blocks on (the order-free name keys block on
	-- both names): they agree by construction among the rule's pairs, so
	-- they tell nothing about matching there and are left out.
	SELECT pg_catalog.jsonb_agg(ks ORDER BY o) INTO rule_masks
	  FROM (SELECT t.o, pg_catalog.jsonb_agg(DISTINCT k) AS ks
			  FROM pg_catalog.jsonb_array_elements(m -> 'blocking') WITH ORDINALITY AS t(r, o),
				   pg_catalog.jsonb_array_elements_text(t.r) AS p,
				   pg_catalog.unnest(CASE WHEN pg_catalog.split_part(p, ':', 1) IN ('name_initials', 'name_phonetic')
										  THEN ARRAY['given_name', 'family_name']
										  ELSE ARRAY[pg_catalog.split_part(p, ':', 1)] END) AS k
			 GROUP BY t.o) x;
	rule_counts := pg_catalog.array_fill(0::bigint, ARRAY[nrules]);
	FOR rr IN SELECT p.rule, pg_catalog.count(*) AS c FROM pg_temp.crm_train_pairs p GROUP BY 1 LOOP
		rule_counts[rr.rule] := rr.c;
	END LOOP;
	SELECT pg_catalog.sum(x) INTO nrows FROM pg_catalog.unnest(rule_counts) x;
	msum := pg_catalog.array_fill(0::float8, ARRAY[nw]);
	mcnt := pg_catalog.array_fill(0, ARRAY[nf]);
	msum_nc := msum;
	mcnt_nc := mcnt;

	IF labels IS NOT NULL THEN
		-- m from labelled matches.
		EXECUTE pg_catalog.format($q$
			CREATE TEMP TABLE crm_train_pat ON COMMIT DROP AS
			SELECT crm.match_levels($1, a.f, b.f) AS lv, pg_catalog.count(*) AS n
			  FROM %s l
			  JOIN pg_temp.crm_train_rec a ON a.id = l.id_a::text
			  JOIN pg_temp.crm_train_rec b ON b.id = l.id_b::text
			 WHERE l.is_match
			 GROUP BY 1$q$, labels) USING kinds;
		SELECT coalesce(pg_catalog.sum(p.n), 0) INTO nlab FROM pg_temp.crm_train_pat p;
		IF nlab = 0 THEN
			RAISE EXCEPTION 'no labelled match in % refers to records of %', labels, source
				USING ERRCODE = 'invalid_parameter_value',
					  HINT = 'Labels need columns id_a, id_b and is_match (boolean), with ids of the source table.';
		END IF;
		ssum := pg_catalog.array_fill(0::float8, ARRAY[nw]);
		FOR rr IN SELECT x.f::int AS f, x.l::int AS l, pg_catalog.sum(p.n)::float8 AS c
					FROM pg_temp.crm_train_pat p, pg_catalog.unnest(p.lv) WITH ORDINALITY AS x(l, f)
				   WHERE x.l >= 0 GROUP BY 1, 2 LOOP
			ssum[off[rr.f] + rr.l + 1] := rr.c;
		END LOOP;
		FOR f IN 1..nf LOOP
			tot := 0;
			FOR l IN 1..nlev[f] LOOP tot := tot + ssum[off[f] + l]; END LOOP;
			CONTINUE WHEN tot = 0;
			FOR l IN 1..nlev[f] LOOP
				msum[off[f] + l] := greatest(ssum[off[f] + l], 0.5) / (tot + 0.5 * nlev[f]);
			END LOOP;
			mcnt[f] := 1;
		END LOOP;
		DROP TABLE pg_temp.crm_train_pat;
	ELSE
		FOR rno IN 1..nrules LOOP
			rule_kinds := ARRAY(SELECT pg_catalog.jsonb_array_elements_text(rule_masks -> (rno - 1)));
			masked := ARRAY(SELECT CASE WHEN k = ANY (rule_kinds) THEN 'id' ELSE k END
							  FROM pg_catalog.unnest(kinds) WITH ORDINALITY AS t(k, o) ORDER BY o);
			-- A rule with more than max_pairs pairs is trained on a
			-- deterministic sample of them (hash of the pair).
			rule_pairs := coalesce(rule_counts[rno], 0);
			frac := least(1.0, max_pairs::float8 / greatest(rule_pairs, 1));
			-- The rule's own fields are left out (level -1, no weight).
			CREATE TEMP TABLE crm_train_pat ON COMMIT DROP AS
				SELECT ARRAY(SELECT CASE WHEN masked[t.o] = 'id' THEN -1 ELSE t.l END
							   FROM pg_catalog.unnest(q.lv) WITH ORDINALITY AS t(l, o) ORDER BY t.o)::int2[] AS lv,
					   pg_catalog.sum(q.n)::bigint AS n
				  FROM (SELECT crm.match_levels(kinds, a.f, b.f) AS lv, pg_catalog.count(*) AS n
						  FROM pg_temp.crm_train_pairs p
						  JOIN pg_temp.crm_train_rec a ON a.rid = p.ra
						  JOIN pg_temp.crm_train_rec b ON b.rid = p.rb
						 WHERE p.rule = rno
						   AND (pg_catalog.hashint8((p.ra::bigint << 32) | p.rb) & 2147483647) < frac * 2147483648.0
						 GROUP BY 1) q
				 GROUP BY 1;
			SELECT coalesce(pg_catalog.sum(p.n), 0) INTO nsample FROM pg_temp.crm_train_pat p;
			IF nsample < 10 THEN
				DROP TABLE pg_temp.crm_train_pat;
				em_stats := em_stats || pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
					'rule', m -> 'blocking' -> (rno - 1), 'pairs', rule_pairs, 'skipped', true));
				CONTINUE;
			END IF;
			mcur := mdef;
			lam := 0.3;
			FOR it IN 1..60 LOOP
				w := ARRAY[pg_catalog.log(2.0, lam::numeric / (1 - lam::numeric))::float8]
					 || ARRAY(SELECT pg_catalog.log(2.0, greatest(mc, 1e-9)::numeric / greatest(uu, 1e-9)::numeric)::float8
								FROM ROWS FROM (pg_catalog.unnest(mcur), pg_catalog.unnest(u)) WITH ORDINALITY AS t(mc, uu, o) ORDER BY o);
				ssum := pg_catalog.array_fill(0::float8, ARRAY[nw]);
				FOR rr IN
					WITH post AS (
						SELECT p.lv, p.n * (1.0 / (1.0 + pg_catalog.power(2.0::float8,
								 -crm.match_levels_weight(kinds, p.lv, w)))) AS pn
						  FROM pg_temp.crm_train_pat p)
					SELECT x.f::int AS f, x.l::int AS l, pg_catalog.sum(post.pn) AS s
					  FROM post, pg_catalog.unnest(post.lv) WITH ORDINALITY AS x(l, f)
					 WHERE x.l >= 0 GROUP BY 1, 2
				LOOP
					ssum[off[rr.f] + rr.l + 1] := rr.s;
				END LOOP;
				SELECT pg_catalog.sum(p.n * (1.0 / (1.0 + pg_catalog.power(2.0::float8,
							-crm.match_levels_weight(kinds, p.lv, w))))) / pg_catalog.sum(p.n)
				  INTO tot FROM pg_temp.crm_train_pat p;
				lam := least(greatest(tot, 1e-6), 1 - 1e-6);
				mnew := mcur;
				delta := 0;
				FOR f IN 1..nf LOOP
					CONTINUE WHEN masked[f] = 'id';
					tot := 0;
					FOR l IN 1..nlev[f] LOOP tot := tot + ssum[off[f] + l]; END LOOP;
					CONTINUE WHEN tot <= 0;
					FOR l IN 1..nlev[f] LOOP
						mnew[off[f] + l] := (ssum[off[f] + l] + 1e-6) / (tot + 1e-6 * nlev[f]);
						delta := greatest(delta, abs(mnew[off[f] + l] - mcur[off[f] + l]));
					END LOOP;
				END LOOP;
				mcur := mnew;
				iters := it;
				EXIT WHEN delta < 1e-5;
			END LOOP;
			-- Keep the estimates of the fields this rule could see.  A run
			-- that has not settled after 60 rounds has a flat likelihood:
			-- the pairs do not tell matches from non-matches on the fields
			-- left, and "matches" may be any cluster of pairs (strangers in
			-- one city).  Its estimates count only for fields no settled
			-- run could see.
			converged := delta < 1e-5;
			FOR f IN 1..nf LOOP
				CONTINUE WHEN masked[f] = 'id';
				CONTINUE WHEN NOT EXISTS (SELECT 1 FROM pg_temp.crm_train_pat p WHERE p.lv[f] >= 0);
				FOR l IN 1..nlev[f] LOOP
					IF converged THEN
						msum[off[f] + l] := msum[off[f] + l] + mcur[off[f] + l];
					ELSE
						msum_nc[off[f] + l] := msum_nc[off[f] + l] + mcur[off[f] + l];
					END IF;
				END LOOP;
				IF converged THEN
					mcnt[f] := mcnt[f] + 1;
				ELSE
					mcnt_nc[f] := mcnt_nc[f] + 1;
				END IF;
			END LOOP;
			em_stats := em_stats || pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
				'rule', m -> 'blocking' -> (rno - 1), 'pairs', rule_pairs, 'sampled', nsample, 'iterations', iters,
				'converged', converged, 'match_rate', pg_catalog.round(lam::numeric, 6)));
			DROP TABLE pg_temp.crm_train_pat;
		END LOOP;
	END IF;

	FOR f IN 1..nf LOOP
		IF mcnt[f] = 0 AND mcnt_nc[f] > 0 THEN
			FOR l IN 1..nlev[f] LOOP
				msum[off[f] + l] := msum_nc[off[f] + l];
			END LOOP;
			mcnt[f] := mcnt_nc[f];
		END IF;
	END LOOP;
	mcur := mdef;
	FOR f IN 1..nf LOOP
		CONTINUE WHEN mcnt[f] = 0;
		FOR l IN 1..nlev[f] LOOP
			mcur[off[f] + l] := msum[off[f] + l] / mcnt[f];
		END LOOP;
	END LOOP;

	-- Prior: the number of matches among the candidate pairs, by EM on the
	-- match rate alone with m and u fixed.  Each pair is compared on the
	-- fields none of the rules that found it blocks on (counting the blocked
	-- fields' agreement as evidence would call most pairs that share, say, a
	-- given name matches), and pairs found by different sets of rules get
	-- their own match rate: pairs sharing an email are nearly all matches,
	-- pairs only sharing a name key nearly all strangers, and one rate for
	-- both would lend the strangers the email pairs' odds.  Above max_pairs
	-- rows a deterministic sample (hash of the pair) stands for all.
	frac := least(1.0, max_pairs::float8 / greatest(nrows, 1));
	w := ARRAY[0::float8]
		 || ARRAY(SELECT pg_catalog.log(2.0, greatest(mc, 1e-9)::numeric / greatest(uu, 1e-9)::numeric)::float8
					FROM ROWS FROM (pg_catalog.unnest(mcur), pg_catalog.unnest(u)) WITH ORDINALITY AS t(mc, uu, o) ORDER BY o);
	CREATE TEMP TABLE crm_train_pat ON COMMIT DROP AS
		SELECT r.rules, crm.match_levels_weight(kinds, r.lv, w) AS bf, r.n
		  FROM (SELECT q.rules,
					   ARRAY(SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_catalog.unnest(q.rules) AS r
													   WHERE rule_masks -> (r - 1) ? kinds[t.o]) THEN -1 ELSE t.l END
							   FROM pg_catalog.unnest(q.lv) WITH ORDINALITY AS t(l, o) ORDER BY t.o)::int2[] AS lv,
					   pg_catalog.sum(q.n)::bigint AS n
				  FROM (SELECT p.rules, crm.match_levels(kinds, a.f, b.f) AS lv, pg_catalog.count(*) AS n
						  FROM (SELECT cp.ra, cp.rb, pg_catalog.array_agg(DISTINCT cp.rule ORDER BY cp.rule) AS rules
								  FROM pg_temp.crm_train_pairs cp
								 WHERE (pg_catalog.hashint8((cp.ra::bigint << 32) | cp.rb) & 2147483647) < frac * 2147483648.0
								 GROUP BY cp.ra, cp.rb) p
						  JOIN pg_temp.crm_train_rec a ON a.rid = p.ra
						  JOIN pg_temp.crm_train_rec b ON b.rid = p.rb
						 GROUP BY 1, 2) q
				 GROUP BY 1, 2) r;
	CREATE TEMP TABLE crm_train_strata ON COMMIT DROP AS
		SELECT p.rules, pg_catalog.sum(p.n)::float8 AS n, 0.3::float8 AS lam
		  FROM pg_temp.crm_train_pat p GROUP BY 1;
	SELECT coalesce(pg_catalog.sum(p.n), 0) INTO ncand FROM pg_temp.crm_train_pat p;
	IF ncand > 0 THEN
		FOR it IN 1..100 LOOP
			WITH est AS (
				SELECT p.rules, s.lam AS old,
					   least(greatest(pg_catalog.sum(p.n / (1.0 + pg_catalog.power(2.0::float8,
							-(p.bf + pg_catalog.log(2.0, (s.lam / (1 - s.lam))::numeric)::float8)))) / s.n,
							1e-9), 1 - 1e-9) AS lam
				  FROM pg_temp.crm_train_pat p JOIN pg_temp.crm_train_strata s ON s.rules = p.rules
				 GROUP BY p.rules, s.lam, s.n),
			upd AS (
				UPDATE pg_temp.crm_train_strata s SET lam = est.lam FROM est WHERE s.rules = est.rules
				RETURNING abs(est.lam - est.old) AS d)
			SELECT pg_catalog.max(upd.d) INTO delta FROM upd;
			EXIT WHEN delta < 1e-7;
		END LOOP;
	END IF;
	SELECT coalesce(pg_catalog.sum(s.lam * s.n), 0) INTO tot FROM pg_temp.crm_train_strata s;
	lam_cand := tot / greatest(ncand, 1);
	DROP TABLE pg_temp.crm_train_strata;
	-- The sample stands for ncand / frac candidate pairs.
	ncand := pg_catalog.round(ncand / frac);
	-- Expected matches among candidates, as a share of all pairs.
	lam := least(greatest(lam_cand * ncand / allpairs, 1e-12), 0.5);

	FOR f IN 1..nf LOOP
		CONTINUE WHEN kinds[f] = 'id';
		fields_params := fields_params || pg_catalog.jsonb_build_object(kinds[f], pg_catalog.jsonb_build_object(
			'm', pg_catalog.to_jsonb(mcur[off[f] + 1 : off[f] + nlev[f]]),
			'u', pg_catalog.to_jsonb(u[off[f] + 1 : off[f] + nlev[f]])));
	END LOOP;
	new_params := pg_catalog.jsonb_build_object('prior', lam, 'fields', fields_params);

	INSERT INTO crm.matcher_models (source, version, fields, params, trained_with, stats)
	SELECT m ->> 'source', coalesce(pg_catalog.max(mm.version), 0) + 1, m -> 'fields', new_params,
		   CASE WHEN labels IS NULL THEN 'unsupervised' ELSE 'labels' END,
		   pg_catalog.jsonb_build_object('records', n, 'random_pairs', npairs,
				'candidate_pairs', ncand, 'candidate_match_rate', pg_catalog.round(lam_cand::numeric, 6),
				'labelled_matches', nlab, 'em', em_stats, 'blocking', m -> 'blocking')
	  FROM crm.matcher_models mm WHERE mm.source = m ->> 'source'
	RETURNING id INTO new_id;

	DROP TABLE pg_temp.crm_train_pat, pg_temp.crm_train_pairs, pg_temp.crm_train_rec;
	RETURN new_id;
END;
$$;
COMMENT ON FUNCTION crm.train_matcher(regclass, jsonb, regclass, int) IS
	'estimate and store a new version of the dedupe model of a table: u from random pairs, m by EM on blocked pairs or from labelled matches';
