-- Generated accounts and contacts for the benchmarks (a psql include, \ir
-- from bench/*.sql, with :n_accounts and :n_contacts set and the tables'
-- triggers switched off as the benchmark needs).  Accounts in eight
-- industries and ten countries; contacts with an e-mail at their
-- company's domain or (one in five) at a free provider, eight titles, six
-- functions and lead sources, and verification times over the past years.
-- Random: call setseed() first for the same data every run.
INSERT INTO crm.accounts (id, name, industry, employees, country)
SELECT g, 'Company ' || g,
	bench.pick('{Software,software,SaaS,Retail,Manufacturing,Financial Services,Healthcare,Education}'),
	(10 ^ (1 + random() * 3.5))::int, bench.pick('{US,US,US,GB,DE,FR,AU,CA,BR,IN}')
  FROM generate_series(1, :n_accounts) g;

INSERT INTO crm.contacts (id, given_name, family_name, email, title, job_function, account_id, lead_source,
						  lifecycle_stage, country, created_at, email_verified_at, title_verified_at)
SELECT g, 'Given' || g, 'Family' || (g % 50000),
	('p' || g || '@' || CASE WHEN random() < 0.2 THEN bench.pick('{gmail.com,yahoo.com,outlook.com}')
							 ELSE 'company' || (g % :n_accounts) || '.example' END)::crm.email,
	bench.pick('{"VP Marketing","Marketing Manager","CEO","Software Engineer","Director of Sales","Analyst","Intern","Head of IT"}'),
	bench.pick('{marketing,sales,it,engineering,finance,operations}'),
	1 + (g % :n_accounts), bench.pick('{webinar,web,referral,cold_call,event,ads}'),
	bench.pick('{subscriber,lead,lead,lead}'), NULL,
	now() - random() * interval '1000 days',
	CASE WHEN random() < 0.6 THEN now() - random() * interval '900 days' END,
	CASE WHEN random() < 0.4 THEN now() - random() * interval '900 days' END
  FROM generate_series(1, :n_contacts) g;
