-- Normalized contact data: what crm makes of the raw sample rows
\pset null '∅'

-- E-mail as typed vs as crm.email: white space and mailto: gone, case kept
-- for display but ignored when comparing, and the reason for each refusal.
SELECT c.email AS typed, crm.try_email(c.email) AS email,
	crm.email_canonical(crm.try_email(c.email)) AS canonical,
	crm.email_is_free(crm.try_email(c.email)) AS free,
	crm.email_problem(c.email) AS problem
  FROM sample.contacts c
 WHERE c.email IS NOT NULL
   AND (c.email <> btrim(c.email) OR c.email ~ '^mailto:|@(gmail|googlemail)\.com' OR crm.email_problem(c.email) IS NOT NULL)
 ORDER BY c.id LIMIT 10;

-- Equal addresses compare equal, whatever the case, and IDN forms match.
SELECT 'Ann.Lee@Example.COM'::crm.email = 'ann.lee@example.com'::crm.email AS case_insensitive,
	'anna@bücher.de'::crm.email = 'anna@xn--bcher-kva.de'::crm.email AS idn_equal;

-- Phones typed in national formats become E.164, using the contact's country.
SELECT c.phone AS typed, upper(c.country) AS region,
	crm.try_phone(c.phone, upper(c.country)) AS e164,
	crm.phone_format(crm.try_phone(c.phone, upper(c.country)), 'international') AS international,
	crm.phone_type(crm.try_phone(c.phone, upper(c.country))) AS type,
	crm.phone_problem(c.phone, upper(c.country)) AS problem
  FROM sample.contacts c
 WHERE c.phone IS NOT NULL
 ORDER BY c.id LIMIT 8;

SELECT DISTINCT ON (problem) c.phone AS typed, upper(c.country) AS region, crm.phone_problem(c.phone, upper(c.country)) AS problem
  FROM sample.contacts c
 WHERE crm.phone_problem(c.phone, upper(c.country)) IS NOT NULL
 ORDER BY problem, c.id;

-- Names, companies and websites reduced to keys that match across spellings.
SELECT c.given_name, c.family_name, crm.normalize_name(c.given_name || ' ' || c.family_name) AS name_key,
	crm.given_name_key(btrim(c.given_name)) AS given_key, c.company, crm.company_key(c.company) AS company_key
  FROM sample.contacts c
 WHERE c.given_name ~ '^\s|[^\x01-\x7f]' OR c.given_name IN ('Bob', 'Bill', 'Liz', 'Mike')
 ORDER BY c.id LIMIT 10;

SELECT crm.given_names_match('Bob', 'Robert') AS bob_is_robert,
	crm.domain_key('https://www.Acme.co.uk/about') AS domain_key,
	crm.address_key('12 North Main Street, Apartment 4') AS address_key,
	crm.normalize_postcode('sw1a1aa', 'GB') AS postcode;

-- How much of the raw import is usable as typed.
SELECT count(*) AS contacts,
	count(*) FILTER (WHERE crm.try_email(email) IS NOT NULL) AS valid_email,
	count(*) FILTER (WHERE email IS NOT NULL AND crm.try_email(email) IS NULL) AS invalid_email,
	count(*) FILTER (WHERE crm.try_phone(phone, upper(country)) IS NOT NULL) AS valid_phone,
	count(*) FILTER (WHERE phone IS NOT NULL AND crm.try_phone(phone, upper(country)) IS NULL) AS invalid_phone
  FROM sample.contacts;
