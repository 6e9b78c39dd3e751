-- The language a user chose for the web app (en, ar); NULL follows the browser.
ALTER TABLE users ADD COLUMN language TEXT;
