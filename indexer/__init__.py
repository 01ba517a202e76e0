"""The Whoosh index: schema, writing, search and clips.  Imports nothing of ours."""
