-- crm.company_key, crm.domain_key, crm.address_key, crm.normalize_postcode.

SELECT p.oid::regprocedure AS function, p.provolatile, p.proisstrict, p.proparallel, p.procost
  FROM pg_proc p
 WHERE p.oid IN ('crm.company_key(text)'::regprocedure, 'crm.domain_key(text)'::regprocedure,
                 'crm.address_key(text)'::regprocedure, 'crm.normalize_postcode(text,text)'::regprocedure,
                 'crm.try_normalize_postcode(text,text)'::regprocedure)
 ORDER BY 1::text;

-- company_key
SELECT v AS input, crm.company_key(v) AS key
  FROM (VALUES
	('Acme, Inc.'),
	('ACME INC'),
	('Acme Incorporated'),
	('The Acme Corporation'),
	('Acme Corp.'),
	('Acme Co.'),
	('Acme LLC'),
	('Acme L.L.C.'),
	('Acme Ltd'),
	('Acme Limited'),
	('Acme Pty Ltd'),
	('Acme PLC'),
	('Müller GmbH'),
	('Müller GmbH & Co. KG'),
	('Nestlé S.A.'),
	('Volkswagen AG'),
	('Philips N.V.'),
	('ASML Holding B.V.'),
	('Renault SARL'),
	('Ferrari S.p.A.'),
	('Toyota K.K.'),
	('Nokia Oy'),
	('Volvo AB'),
	('Maersk A/S'),
	('Grupo Bimbo, S.A.B. de C.V.'),
	('PT Telkom Indonesia Tbk'),
	('Smith & Co.'),
	('Smith and Company'),
	('Johnson & Johnson'),
	('AT&T Inc.'),
	('McDonald''s Corporation'),
	('Hewlett-Packard Company'),
	('The'),
	('Inc'),
	('The Co'),
	('Société Générale S.A.'),
	('ＡＣＭＥ　株式会社'),
	('ООО Газпром'),
	(''),
	('&&&')
  ) AS t(v);

SELECT crm.company_key('The Acme Corp.') = crm.company_key('ACME, Inc') AS same_company;

-- domain_key
SELECT left(v, 40) AS input, crm.domain_key(v) AS key
  FROM (VALUES
	('https://www.Acme.co.uk/about'),
	('acme.co.uk'),
	('www.acme.com'),
	('WWW.ACME.COM.'),
	('http://user:secret@shop.acme.de:8080/x?y=1#z'),
	('acme.com:443'),
	('ann@mail.Acme.com'),
	('mailto:ann@acme.com'),
	('"Ann Lee" <ann@sub.acme.com>'),
	('bücher.de'),
	('https://www.BÜCHER.de/'),
	('xn--bcher-kva.de'),
	('例え.テスト'),
	('blog.example.github.io'),
	('foo.s3.amazonaws.com'),
	('www.city.kawasaki.jp'),
	('co.uk'),
	('com'),
	('localhost'),
	('192.168.0.1'),
	('http://10.0.0.1:8080/'),
	('http://[2001:db8::1]/'),
	('a..b.com'),
	('-bad-.com'),
	('under_score.com'),
	('foo bar'),
	('@'),
	('://'),
	(''),
	(repeat('a', 64) || '.com'),
	(repeat('a.', 130) || 'com')
  ) AS t(v);

-- address_key
SELECT v AS input, crm.address_key(v) AS key
  FROM (VALUES
	('123 Main Street, Apartment 4B'),
	('123 Main St. Apt 4B'),
	('123 MAIN ST #4B'),
	('123 Main St, Unit 4B'),
	('123 Main St Apt # 4B'),
	('1600 Pennsylvania Avenue Northwest'),
	('1600 Pennsylvania Ave NW'),
	('10 Downing Road'),
	('500 Sunset Boulevard, Suite 200'),
	('500 Sunset Blvd Ste 200'),
	('5 Saint Mark''s Place'),
	('5 St. Marks Pl'),
	('P.O. Box 12'),
	('PO Box 12'),
	('Hauptstraße 5'),
	('Hauptstr. 5'),
	('Königsallee 1'),
	('  '),
	('###'),
	('12 Main St # 4'),
	('12 Main St #4'),
	('東京都千代田区丸の内1-1')
  ) AS t(v);

-- normalize_postcode, country by country
SELECT c AS country, v AS input, crm.normalize_postcode(v, c) AS postcode
  FROM (VALUES
	('US', '12345'), ('US', '12345-6789'), ('US', '123456789'), ('US', ' 02139 '),
	('CA', 'k1a0b1'), ('CA', 'K1A 0B1'), ('CA', 'k1a-0b1'),
	('GB', 'sw1a1aa'), ('GB', 'SW1A 1AA'), ('GB', 'EC1A1BB'), ('GB', 'M1 1AE'), ('GB', 'B33 8TH'),
	('GB', 'CR2 6XH'), ('GB', 'DN55 1PT'), ('GB', 'GIR 0AA'), ('uk', 'W1A 0AX'),
	('DE', '10115'), ('DE', 'D-10115'), ('DE', 'DE-10115'),
	('FR', '75001'), ('FR', 'F-75001'),
	('AU', '2000'), ('AU', '0800'),
	('NL', '1012ab'), ('NL', '1012 AB'), ('NL', 'NL-1012 ab'),
	('IN', '110001'), ('IN', '110 001'),
	('JP', '1000001'), ('JP', '100-0001'),
	('BR', '01310100'), ('SE', '11455'), ('PL', '00950'), ('PT', '1000001'),
	(' us ', '１２３４５'),
	('IE', 'd02 x285'), ('HK', '999077'), ('AR', 'c1420-abc'), ('KY', 'KY1 - 1102')
  ) AS t(c, v);

-- Malformed codes: one per line, each with its detail and hint.
\set VERBOSITY default
SELECT crm.normalize_postcode('1234', 'US');
SELECT crm.normalize_postcode('123456', 'US');
SELECT crm.normalize_postcode('1234a', 'US');
SELECT crm.normalize_postcode('12345-678', 'US');
SELECT crm.normalize_postcode('', 'US');
SELECT crm.normalize_postcode('D1A 0B1', 'CA');
SELECT crm.normalize_postcode('W1A 0B1', 'CA');
SELECT crm.normalize_postcode('K1A 0B', 'CA');
SELECT crm.normalize_postcode('123 456', 'CA');
SELECT crm.normalize_postcode('SW1A', 'GB');
SELECT crm.normalize_postcode('SW1A 1CA', 'GB');
SELECT crm.normalize_postcode('QW1A 1AA', 'GB');
SELECT crm.normalize_postcode('1234', 'DE');
SELECT crm.normalize_postcode('F-7500', 'FR');
SELECT crm.normalize_postcode('20000', 'AU');
SELECT crm.normalize_postcode('0123 AB', 'NL');
SELECT crm.normalize_postcode('1012 SA', 'NL');
SELECT crm.normalize_postcode('1012', 'NL');
SELECT crm.normalize_postcode('011001', 'IN');
SELECT crm.normalize_postcode('12345!', 'US');
SELECT crm.normalize_postcode('Paris 75001', 'FR');
SELECT crm.normalize_postcode('١٢٣٤٥', 'US');
SELECT crm.normalize_postcode('1', 'IE');
SELECT crm.normalize_postcode('12345678901', 'IE');
SELECT crm.normalize_postcode(repeat('9', 100000), 'US');
SELECT crm.normalize_postcode('12345', repeat('X', 100));
-- Unrecognized countries are a mistake in the query: always an error.
SELECT crm.normalize_postcode('12345', 'USA');
SELECT crm.normalize_postcode('12345', 'XX');
SELECT crm.normalize_postcode('12345', '');
SELECT crm.normalize_postcode('12345', 'Ü1');
SELECT crm.try_normalize_postcode('12345', 'ZZ');

-- try_normalize_postcode: NULL instead of an error, for imports.
SELECT v, crm.try_normalize_postcode(v, 'US') AS zip
  FROM (VALUES ('12345'), ('1234'), ('abcde'), (''), ('12345-6789')) AS t(v);
SELECT crm.normalize_postcode(NULL, 'US') IS NULL AS strict1, crm.normalize_postcode('12345', NULL) IS NULL AS strict2;

-- The keys are IMMUTABLE and so can back an expression index.
CREATE TABLE regress_companies (name text);
INSERT INTO regress_companies SELECT 'Company ' || i || ' Inc.' FROM generate_series(1, 2000) i;
INSERT INTO regress_companies VALUES ('The Acme Corporation');
CREATE INDEX ON regress_companies (crm.company_key(name));
ANALYZE regress_companies;
EXPLAIN (COSTS OFF) SELECT * FROM regress_companies WHERE crm.company_key(name) = crm.company_key('ACME inc');
SELECT * FROM regress_companies WHERE crm.company_key(name) = crm.company_key('ACME inc');
DROP TABLE regress_companies;
