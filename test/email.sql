-- crm.email across roles and transactions: who may read and change the
-- domain lists, and that lookups see changes at once.
BEGIN;
SELECT plan(9);

CREATE ROLE regress_email_user;
SET LOCAL ROLE regress_email_user;

SELECT is(crm.email_is_free('ann@gmail.com'), true, 'an ordinary role can classify free addresses');
SELECT is(crm.email_is_disposable('ann@mailinator.com'), true, 'and disposable ones');
SELECT is(crm.email_canonical('A.nn+x@gmail.com')::text, 'ann@gmail.com', 'and canonicalize');
SELECT throws_ok($$INSERT INTO crm.email_domains (domain, kind) VALUES ('acme.example', 'free')$$,
	'42501', NULL, 'but cannot add to the domain lists');
SELECT throws_ok($$DELETE FROM crm.email_domains WHERE domain = 'gmail.com'$$,
	'42501', NULL, 'nor delete from them');

RESET ROLE;
INSERT INTO crm.email_domains (domain, kind, source) VALUES ('ACME.example', 'free', 'test');
SELECT is(crm.email_is_free('ann@acme.example'), true, 'an admin row is seen by the next statement');
SELECT is((SELECT domain FROM crm.email_domains WHERE source = 'test'), 'acme.example',
	'and is stored in comparison form');
UPDATE crm.email_domains SET kind = 'disposable' WHERE domain = 'acme.example' AND NOT builtin;
SELECT is(crm.email_domain_kind('ann@sub.acme.example'), 'disposable', 'updates apply to subdomains too');

SELECT throws_ok($$INSERT INTO crm.email_domains (domain, kind) VALUES ('not a domain', 'free')$$,
	'22P02', 'invalid input syntax for type email: "postmaster@not a domain"',
	'a malformed domain is refused with the email input error');

SELECT * FROM finish();
ROLLBACK;
