-- A video may have no creator: items imported from a rating log (MovieLens, a CSV) name no
-- uploader, and inventing a pseudo-user for them made a "creator" who owned every item and got
-- a feed of their own (fyplake/importers/common.py, NO_CREATOR). Such a video has creator_id
-- NULL; uploads always carry their creator (POST /v1/videos requires it).
ALTER TABLE videos ALTER COLUMN creator_id DROP NOT NULL;
