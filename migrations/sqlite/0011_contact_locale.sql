-- guichet 0011, SQLite flavour: a contact's own language (issue 8 item 4).
--
-- 'fr' or 'en'; NULL when nobody said (mail then goes in the offer's locale). Set from the
-- configuration (contacts[].locale) or, for a contact without one, from the Content-Language
-- or Accept-Language of their mail.
ALTER TABLE contacts ADD COLUMN locale TEXT CHECK (locale IN ('fr', 'en'));
