-- Uploads allocate video ids from 10^12 up (fyplake/ids.py, PLATFORM_ID_BASE): the lake's
-- producers (generator, importers, CSV logs) own the ids below, so the lake sync's explicit ids
-- and an upload's identity never collide, and the identity never has to chase the lake. The
-- sequence hands out each value once, whatever number of processes allocate at once.
DO $$
DECLARE
    next_id BIGINT;
BEGIN
    SELECT greatest(1000000000000, coalesce(max(id) + 1, 0)) INTO next_id
      FROM videos WHERE id >= 1000000000000;
    EXECUTE format('ALTER TABLE videos ALTER COLUMN id SET START WITH %s RESTART WITH %s',
                   1000000000000, next_id);
END $$;
