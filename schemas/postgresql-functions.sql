-- placeholder: replaced by the functions file
CREATE OR REPLACE FUNCTION pmdb.json_extract(doc text, path text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE jsonb_typeof(j) WHEN 'string' THEN j #>> '{}' WHEN 'null' THEN NULL ELSE j::text END
  FROM (SELECT (doc::jsonb) #> string_to_array(substr(path, 3), '.') AS j) AS x
$$;
