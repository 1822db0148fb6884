-- guichet 0004: each article keeps, beside its full text body, the text its writer added
-- (quoted messages, their headers and the signature removed: domain::reply::new_text).
-- NULL for articles written here (their body is all new) and for those stored before.
ALTER TABLE articles ADD COLUMN new_text TEXT;
