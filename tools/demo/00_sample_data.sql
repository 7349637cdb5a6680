-- Sample data: a few hundred realistic, messy contacts, companies and activities
--
-- Generated deterministically (fixed seed, no parallel workers) so every run
-- of the demo shows the same thing.  The raw rows land in schema `sample` as
-- text, the way an import or a web form delivers them: mixed case, stray
-- white space, `mailto:` prefixes, national phone formats, nicknames, typos,
-- and about a quarter of the people entered more than once.  `entity_id`
-- says which rows are truly the same person, so dedupe can be checked.
\set QUIET on
SET client_min_messages = warning;
SET max_parallel_workers_per_gather = 0;
DROP SCHEMA IF EXISTS sample CASCADE;
CREATE SCHEMA sample;
SELECT setseed(0.20261123) AS seed \gset

CREATE FUNCTION pg_temp.pick(a text[]) RETURNS text LANGUAGE sql VOLATILE
	AS $$ SELECT a[1 + floor(random() * cardinality(a))::int] $$;
CREATE FUNCTION pg_temp.digits(n int) RETURNS text LANGUAGE sql VOLATILE
	AS $$ SELECT string_agg((floor(random() * 10))::int::text, '') FROM generate_series(1, n) $$;
-- Swap two neighbouring letters: the commonest typing error.
CREATE FUNCTION pg_temp.typo(s text) RETURNS text LANGUAGE sql VOLATILE AS $$
	SELECT CASE WHEN length(s) < 4 THEN s ELSE
		(SELECT substr(s, 1, p - 1) || substr(s, p + 1, 1) || substr(s, p, 1) || substr(s, p + 2)
		   FROM (SELECT 2 + floor(random() * (length(s) - 2))::int AS p) x) END $$;

CREATE TABLE sample.companies (
	id int PRIMARY KEY,
	name text,
	website text,
	industry text,
	employees int,
	annual_revenue numeric,
	country text,
	city text
);

CREATE TEMP TABLE places (country text, city text, postcode text, tld text, region text);
INSERT INTO places VALUES
	('US', 'San Francisco', '94105', 'com', 'CA'), ('US', 'New York', '10001', 'com', 'NY'),
	('US', 'Boston', '02110', 'com', 'MA'), ('US', 'Chicago', '60601', 'com', 'IL'),
	('US', 'Seattle', '98101', 'com', 'WA'), ('US', 'Austin', '78701', 'com', 'TX'),
	('GB', 'London', 'EC1A 1BB', 'co.uk', NULL), ('GB', 'Manchester', 'M1 1AE', 'co.uk', NULL),
	('DE', 'Berlin', '10115', 'de', NULL), ('DE', 'München', '80331', 'de', NULL),
	('FR', 'Paris', '75002', 'fr', NULL), ('FR', 'Lyon', '69002', 'fr', NULL),
	('AU', 'Sydney', '2000', 'com.au', 'NSW'), ('AU', 'Melbourne', '3000', 'com.au', 'VIC');

INSERT INTO sample.companies
SELECT g,
	base || pg_temp.pick(ARRAY['', ' Inc', ', Inc.', ' LLC', ' Ltd', ' GmbH', ' S.A.', ' PLC', ' Pty Ltd', ' Corp', ' BV']),
	pg_temp.pick(ARRAY['https://www.', 'http://', 'www.', '']) ||
		lower(regexp_replace(translate(base, 'üéèöäßç', 'ueeoasc'), '[^A-Za-z]', '', 'g')) || '.' || p.tld ||
		pg_temp.pick(ARRAY['', '/', '/about', '/en/home']),
	pg_temp.pick(ARRAY['Software', 'Manufacturing', 'Retail', 'Finance', 'Healthcare', 'Logistics', 'Education', 'Energy']),
	(ARRAY[8, 25, 60, 140, 450, 1200, 5000])[1 + floor(random() * 7)::int],
	round((random() * 200 + 1)::numeric, 1) * 1000000,
	p.country, p.city
FROM (SELECT g, (ARRAY['Northwind Traders', 'Contoso', 'Fabrikam', 'Tailspin Toys', 'Wide World Importers',
		'Adventure Works', 'Blue Yonder Airlines', 'Coho Winery', 'Litware', 'Proseware', 'Lucerne Publishing',
		'Alpine Ski House', 'Fourth Coffee', 'Trey Research', 'Woodgrove Bank', 'Humongous Insurance',
		'Southridge Video', 'Wingtip Toys', 'Relecloud', 'VanArsdel', 'Tidal Analytics', 'Kestrel Logistics',
		'Brightline Solar', 'Harbor & Finch', 'Müller Maschinenbau', 'Société Lumière', 'Ironbark Mining',
		'Bluegum Health', 'Quillfeather Books', 'Red Maple Foods', 'Oakridge Capital', 'Silverline Freight',
		'Cobalt Robotics', 'Juniper Dental', 'Marigold Events', 'Granite Works', 'Pinecrest Schools',
		'Lighthouse Legal', 'Atlas Textiles', 'Evergreen Energy', 'The Copper Kettle', 'Nordlicht Software',
		'Saffron & Sage', 'Bergmann Logistik', 'Clearwater Labs', 'Summit Outdoor', 'Falcon Aerospace',
		'Meridian Travel', 'Starling Media', 'Westbrook Clinics'])[g] AS base,
		1 + floor(random() * 14)::int AS pidx
	  FROM generate_series(1, 50) g) c
JOIN LATERAL (SELECT * FROM places LIMIT 1 OFFSET c.pidx - 1) p ON true
ORDER BY g;

-- People first, clean; then the rows as they were typed in, with duplicates.
CREATE TEMP TABLE people AS
SELECT g AS entity_id,
	pg_temp.pick(ARRAY['Robert', 'William', 'David', 'Elizabeth', 'Katherine', 'Michael', 'James', 'Margaret',
		'Richard', 'Jennifer', 'Thomas', 'Christopher', 'Alexander', 'Daniel', 'Joseph', 'Susan', 'Patricia',
		'Anthony', 'Rebecca', 'Nicholas', 'José', 'Zoë', 'François', 'Jürgen', 'Søren', 'Siobhán', 'Björn',
		'Łukasz', 'Mei', 'Aisha', 'Priya', 'Olga', 'Hannah', 'Lucas', 'Emma', 'Noah', 'Chloé', 'Mateo', 'Ingrid',
		'Kenji', 'Sofia', 'Liam', 'Amara', 'Yusuf', 'Elena', 'Marco', 'Fatima', 'Oscar', 'Greta', 'Tomasz',
		'Aiko', 'Ravi', 'Nadia', 'Felix', 'Leila', 'Pedro', 'Ines', 'Viktor', 'Maja', 'Hugo', 'Clara', 'Omar',
		'Julia', 'Erik', 'Sara', 'Diego', 'Anya', 'Samuel', 'Lucia', 'Arjun']) AS given_name,
	pg_temp.pick(ARRAY['Smith', 'Müller', 'García', 'O''Brien', 'Nguyen', 'van der Berg', 'Kowalski', 'Dubois',
		'Rossi', 'Andersson', 'Johnson', 'Williams', 'Brown', 'Schmidt', 'Martin', 'Lee', 'Taylor', 'Thompson',
		'Moreau', 'Fischer', 'Novak', 'Okafor', 'Patel', 'Tanaka', 'Ivanova', 'Hughes', 'McDonald', 'Bernard',
		'Weber', 'Clarke', 'Jensen', 'Kaur', 'Singh', 'Chen', 'Wang', 'Kim', 'Park', 'Sato', 'Suzuki', 'Lopez',
		'Hernández', 'Fernandes', 'Silva', 'Costa', 'Ricci', 'Greco', 'Lefebvre', 'Fournier', 'Girard', 'Wagner',
		'Becker', 'Hoffmann', 'Schulz', 'Koch', 'Nowak', 'Wójcik', 'Horváth', 'Nagy', 'Popescu', 'Petrov',
		'Volkova', 'Haddad', 'Mansour', 'Cohen', 'Levi', 'Murphy', 'Kelly', 'Walsh', 'Byrne', 'Evans', 'Davies',
		'Morgan', 'Price', 'Bennett', 'Foster', 'Reyes', 'Ortiz', 'Castillo', 'Larsen', 'Nilsson', 'Lindqvist',
		'Virtanen', 'Korhonen', 'Yilmaz', 'Demir', 'Adeyemi', 'Mensah', 'Owusu', 'Banerjee', 'Iyer', 'Reddy',
		'Fitzgerald', 'Sullivan', 'Campbell', 'Stewart']) AS family_name,
	1 + floor(random() * 50)::int AS company_id,
	pg_temp.pick(ARRAY['CEO', 'CTO', 'VP Sales', 'Head of Marketing', 'Marketing Manager', 'Sales Director',
		'Software Engineer', 'Office Manager', 'Procurement Lead', 'Data Analyst', 'Operations Manager',
		'Intern', 'Founder', 'IT Director', 'Account Executive']) AS title,
	pg_temp.pick(ARRAY['web', 'referral', 'event', 'paid_search', 'social', 'partner', 'cold_outbound', 'webinar'])
		AS lead_source,
	now() - (random() * 1000 || ' days')::interval AS created_at,
	random() AS r_email, random() AS r_phone
FROM generate_series(1, 260) g;

CREATE TEMP TABLE nick (name text, nick text);
INSERT INTO nick VALUES ('Robert', 'Bob'), ('William', 'Bill'), ('David', 'Dave'), ('Elizabeth', 'Liz'),
	('Katherine', 'Kate'), ('Michael', 'Mike'), ('James', 'Jim'), ('Margaret', 'Peggy'), ('Richard', 'Rick'),
	('Jennifer', 'Jen'), ('Thomas', 'Tom'), ('Christopher', 'Chris'), ('Alexander', 'Alex'),
	('Daniel', 'Dan'), ('Joseph', 'Joe'), ('Susan', 'Sue'), ('Patricia', 'Pat'), ('Anthony', 'Tony'),
	('Rebecca', 'Becky'), ('Nicholas', 'Nick');

CREATE TABLE sample.contacts (
	id int PRIMARY KEY,
	entity_id int NOT NULL,
	given_name text,
	family_name text,
	email text,
	phone text,
	company text,
	title text,
	city text,
	postcode text,
	country text,
	lead_source text,
	created_at timestamptz
);

-- copies: 0 = the original entry; 1 and 2 are later re-entries of the same person.
CREATE TEMP TABLE entries AS
SELECT p.*, c.name AS company, c.website, c.country, c.city, pl.postcode, pl.region, k AS copy,
	random() AS r1, random() AS r2, random() AS r3, random() AS r4, random() AS r5
FROM people p
JOIN sample.companies c ON c.id = p.company_id
JOIN places pl ON pl.country = c.country AND pl.city = c.city
CROSS JOIN LATERAL generate_series(0, CASE WHEN p.r_email < 0.18 THEN 1 WHEN p.r_email < 0.25 THEN 2 ELSE 0 END) k
ORDER BY p.entity_id, k;

INSERT INTO sample.contacts
SELECT row_number() OVER (ORDER BY created_at, entity_id), typed.*
FROM (SELECT
	e.entity_id,
	-- names: nicknames, case slips and typos on re-entry; occasionally swapped
	CASE WHEN e.copy > 0 AND e.r1 < 0.08 THEN e.family_name
		 WHEN e.copy > 0 AND e.r1 < 0.40 AND n.nick IS NOT NULL THEN n.nick
		 WHEN e.copy > 0 AND e.r1 < 0.55 THEN pg_temp.typo(e.given_name)
		 WHEN e.r1 > 0.95 THEN upper(e.given_name)
		 WHEN e.r1 > 0.90 THEN '  ' || lower(e.given_name)
		 ELSE e.given_name END,
	CASE WHEN e.copy > 0 AND e.r1 < 0.08 THEN e.given_name
		 WHEN e.copy > 0 AND e.r2 < 0.15 THEN pg_temp.typo(e.family_name)
		 WHEN e.r2 > 0.93 THEN upper(e.family_name)
		 ELSE e.family_name END,
	-- e-mail: work address, sometimes personal, sometimes mistyped or missing
	CASE WHEN e.r3 < 0.03 THEN pg_temp.pick(ARRAY['n/a', 'none', 'x@', 'john.doe@@example', ''])
		 WHEN e.r3 < 0.06 THEN NULL
		 ELSE
			(CASE WHEN e.r3 > 0.92 THEN 'mailto:' WHEN e.r3 > 0.86 THEN '  ' ELSE '' END) ||
			(CASE WHEN e.copy > 0 AND e.r4 < 0.35
				  THEN translate(lower(e.given_name), 'éëçüöäøåáłóñ', 'eecuooaaalon') || '.' ||
					   regexp_replace(translate(lower(e.family_name), 'éüöäáíç', 'euoaaic'), '[^a-z]', '', 'g') ||
					   pg_temp.pick(ARRAY['+crm', '', '']) || '@' || pg_temp.pick(ARRAY['gmail.com', 'googlemail.com', 'yahoo.com', 'outlook.com'])
				  ELSE left(translate(lower(e.given_name), 'éëçüöäøåáłóñ', 'eecuooaaalon'), CASE WHEN e.r_email > 0.5 THEN 1 ELSE 40 END) ||
					   CASE WHEN e.r_email > 0.5 THEN '' ELSE '.' END ||
					   regexp_replace(translate(lower(e.family_name), 'éüöäáíç', 'euoaaic'), '[^a-z]', '', 'g') || '@' ||
					   regexp_replace(e.website, '^(https?://)?(www\.)?([^/]+).*$', '\3')
			 END) ||
			(CASE WHEN e.r3 > 0.97 THEN ' ' ELSE '' END)
	END,
	-- phone: national or international formats, extensions, a few unusable
	CASE WHEN e.r5 < 0.03 THEN pg_temp.pick(ARRAY['123', 'n/a', 'call me', '+999 12'])
		 WHEN e.r5 < 0.12 THEN NULL
		 WHEN e.country = 'US' THEN
			(SELECT CASE WHEN e.r5 < 0.4 THEN format('(%s) %s-%s', a, b, c)
						 WHEN e.r5 < 0.6 THEN format('%s.%s.%s', a, b, c)
						 WHEN e.r5 < 0.8 THEN format('+1 %s %s %s', a, b, c)
						 ELSE format('%s-%s-%s ext. %s', a, b, c, 10 + floor(random() * 90)::int) END
			   FROM (SELECT pg_temp.pick(ARRAY['415', '212', '617', '312', '206', '512', '646']) a,
							(200 + floor(random() * 700)::int)::text b, pg_temp.digits(4) c) x)
		 WHEN e.country = 'GB' THEN
			CASE WHEN e.r5 < 0.5 THEN '020 7946 0' || pg_temp.digits(3) ELSE '+44 20 7946 0' || pg_temp.digits(3) END
		 WHEN e.country = 'DE' THEN
			CASE WHEN e.r5 < 0.5 THEN '030 ' || (2 + floor(random() * 7)::int) || pg_temp.digits(7)
				 ELSE '0049 30 ' || (2 + floor(random() * 7)::int) || pg_temp.digits(7) END
		 WHEN e.country = 'FR' THEN
			CASE WHEN e.r5 < 0.5 THEN '01 ' || pg_temp.digits(2) || ' ' || pg_temp.digits(2) || ' ' || pg_temp.digits(2) || ' ' || pg_temp.digits(2)
				 ELSE '+33 1 ' || pg_temp.digits(8) END
		 ELSE CASE WHEN e.r5 < 0.5 THEN '(02) 9' || pg_temp.digits(3) || ' ' || pg_temp.digits(4)
				   ELSE '+61 4' || pg_temp.digits(2) || ' ' || pg_temp.digits(3) || ' ' || pg_temp.digits(3) END
	END,
	CASE WHEN e.copy > 0 AND e.r2 > 0.7 THEN upper(e.company) ELSE e.company END,
	CASE WHEN e.copy > 0 AND e.r4 > 0.8 THEN NULL ELSE e.title END,
	e.city,
	CASE WHEN e.r4 > 0.9 THEN lower(e.postcode) ELSE e.postcode END,
	CASE WHEN e.r2 > 0.9 THEN lower(e.country) ELSE e.country END,
	e.lead_source,
	e.created_at + (e.copy * (30 + floor(random() * 300))::int || ' days')::interval AS created_at
FROM entries e
LEFT JOIN nick n ON n.name = e.given_name
ORDER BY e.entity_id, e.copy) typed;

CREATE TABLE sample.activities (
	id int PRIMARY KEY,
	contact_id int NOT NULL REFERENCES sample.contacts,
	type text NOT NULL,
	direction text,
	occurred_at timestamptz NOT NULL,
	subject text
);

INSERT INTO sample.activities
SELECT row_number() OVER (ORDER BY c.id, k), c.id, t.type,
	CASE WHEN t.type IN ('call', 'email_sent') THEN 'outbound' WHEN t.type IN ('email_opened', 'email_clicked', 'web_visit', 'form_fill') THEN 'inbound' END,
	LEAST(now(), c.created_at + (random() * 400 || ' days')::interval),
	t.type || ' #' || k
FROM sample.contacts c
CROSS JOIN LATERAL generate_series(1, floor(random() * random() * 14)::int) k
CROSS JOIN LATERAL (SELECT pg_temp.pick(ARRAY['email_sent', 'email_sent', 'email_opened', 'email_opened',
	'email_clicked', 'web_visit', 'web_visit', 'form_fill', 'call', 'meeting', 'note', 'event_rsvp',
	'event_attended']) || repeat('', k) AS type) t;

\set QUIET off
SELECT (SELECT count(*) FROM sample.companies) AS companies,
	(SELECT count(*) FROM sample.contacts) AS contacts,
	(SELECT count(DISTINCT entity_id) FROM sample.contacts) AS distinct_people,
	(SELECT count(*) FROM sample.activities) AS activities;

SELECT id, given_name, family_name, email, phone, company, country
  FROM sample.contacts ORDER BY id LIMIT 8;
