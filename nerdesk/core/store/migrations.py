"""The project schema, as an ordered list of migrations (sqlite-utils ``Migrations``).

Never edit a migration that has shipped: add a new one. ``SCHEMA_VERSION`` is the number of
migrations this nerdesk knows; a project with more was made by a newer nerdesk (E004).
"""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

migrations = Migrations("nerdesk")


@migrations()
def m001_initial(db: Database) -> None:
    db.executescript(
        """
        CREATE TABLE project (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        CREATE TABLE documents (
            id INTEGER PRIMARY KEY,
            text TEXT NOT NULL,
            source TEXT NOT NULL DEFAULT '',
            meta TEXT NOT NULL DEFAULT '{}',
            content_hash TEXT NOT NULL UNIQUE,
            created TEXT NOT NULL
        );
        -- Sentence windows. Offsets are document characters; tokens are a JSON flat list
        -- [s0, e0, s1, e1, ...] of offsets relative to the segment start.
        CREATE TABLE segments (
            id INTEGER PRIMARY KEY,
            doc_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
            idx INTEGER NOT NULL,
            start INTEGER NOT NULL,
            end INTEGER NOT NULL,
            tokens TEXT NOT NULL,
            n_tokens INTEGER NOT NULL,
            status TEXT NOT NULL DEFAULT 'new',
            UNIQUE (doc_id, idx)
        );
        CREATE TABLE labels (
            name TEXT PRIMARY KEY,
            color TEXT NOT NULL,
            shortcut TEXT,
            description TEXT NOT NULL DEFAULT '',
            position INTEGER NOT NULL
        );
        CREATE TABLE guidelines (
            version INTEGER PRIMARY KEY,
            created TEXT NOT NULL,
            author TEXT NOT NULL,
            labels TEXT NOT NULL,
            text TEXT NOT NULL DEFAULT ''
        );
        CREATE TABLE models (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            version TEXT NOT NULL,
            path TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            labels TEXT NOT NULL,
            card TEXT NOT NULL,
            created TEXT NOT NULL,
            active INTEGER NOT NULL DEFAULT 0
        );
        -- One row per segment and model. spans: JSON [[start, end, label, confidence], ...]
        -- in document characters. uncertainty is the default routing score (higher first).
        CREATE TABLE predictions (
            segment_id INTEGER NOT NULL REFERENCES segments(id) ON DELETE CASCADE,
            model_id TEXT NOT NULL REFERENCES models(id) ON DELETE CASCADE,
            spans TEXT NOT NULL,
            least_confidence REAL NOT NULL,
            margin REAL NOT NULL,
            entropy REAL NOT NULL,
            mnlp REAL NOT NULL,
            uncertainty REAL NOT NULL,
            created TEXT NOT NULL,
            PRIMARY KEY (segment_id, model_id)
        ) WITHOUT ROWID;
        CREATE INDEX predictions_queue ON predictions (model_id, uncertainty DESC);
        -- The human layer: one row per segment and annotator. spans: JSON
        -- [{"start", "end", "label", "origin": "model"|"human", "confidence"}, ...].
        CREATE TABLE annotations (
            segment_id INTEGER NOT NULL REFERENCES segments(id) ON DELETE CASCADE,
            annotator TEXT NOT NULL,
            tier TEXT NOT NULL DEFAULT 'annotator',
            status TEXT NOT NULL,
            spans TEXT NOT NULL,
            note TEXT NOT NULL DEFAULT '',
            guideline_version INTEGER,
            model_id TEXT,
            created TEXT NOT NULL,
            updated TEXT NOT NULL,
            PRIMARY KEY (segment_id, annotator)
        );
        CREATE INDEX annotations_status ON annotations (status);
        -- Append-only log of every action. kind: do | undo | redo | log. An undo or redo row
        -- names the event it reverts or replays in ref. before/after hold the annotation row.
        CREATE TABLE events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            ts TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            kind TEXT NOT NULL,
            ref INTEGER,
            segment_id INTEGER,
            before TEXT,
            after TEXT
        );
        CREATE INDEX events_actor ON events (actor, id);
        CREATE VIRTUAL TABLE documents_fts USING fts5 (
            text, content='documents', content_rowid='id', tokenize='unicode61 remove_diacritics 2'
        );
        """
    )


@migrations()
def m002_segment_status_index(db: Database) -> None:
    # the queue's status filter in document order, and the per-status counts
    db.execute("CREATE INDEX segments_status ON segments (status, id)")


@migrations()
def m003_corrections_and_auto_accept(db: Database) -> None:
    db.executescript(
        """
        -- The lowest span confidence of a prediction (1 where it has no span): auto-accept.
        ALTER TABLE predictions ADD COLUMN min_confidence REAL NOT NULL DEFAULT 1.0;
        -- One row per error the human fixed in an accepted segment (nerdesk.core.categorize).
        CREATE TABLE corrections (
            id INTEGER PRIMARY KEY,
            segment_id INTEGER NOT NULL REFERENCES segments(id) ON DELETE CASCADE,
            annotator TEXT NOT NULL,
            tier TEXT NOT NULL,
            category TEXT NOT NULL,
            auto_category TEXT NOT NULL,
            reason TEXT NOT NULL DEFAULT '',
            label TEXT NOT NULL,
            predicted TEXT,
            final TEXT,
            predicted_label TEXT,
            final_label TEXT,
            surface TEXT NOT NULL,
            severity TEXT NOT NULL,
            model_id TEXT,
            guideline_version INTEGER,
            created TEXT NOT NULL
        );
        CREATE INDEX corrections_segment ON corrections (segment_id, annotator);
        CREATE INDEX corrections_category ON corrections (category, label);
        -- Segments sent to humans as audit checkpoints of auto-accept.
        CREATE TABLE audits (
            segment_id INTEGER PRIMARY KEY REFERENCES segments(id) ON DELETE CASCADE,
            model_id TEXT NOT NULL,
            threshold REAL NOT NULL,
            created TEXT NOT NULL
        );
        -- Edit actions to reach the final spans, with the model's pre-annotation and from nothing.
        CREATE TABLE effort (
            segment_id INTEGER NOT NULL REFERENCES segments(id) ON DELETE CASCADE,
            annotator TEXT NOT NULL,
            with_model INTEGER NOT NULL,
            from_scratch INTEGER NOT NULL,
            actions_taken INTEGER NOT NULL,
            PRIMARY KEY (segment_id, annotator)
        );
        """
    )


@migrations()
def m004_prediction_sketch(db: Database) -> None:
    # the segment in the model's feature space, 64 int8 (nerdesk.core.model.sketch); NULL for
    # models without an embedding output and for imported predictions
    db.execute("ALTER TABLE predictions ADD COLUMN sketch BLOB")


@migrations()
def m005_term_lists(db: Database) -> None:
    # term lists and patterns that pre-annotate before a model knows a label (issue 18; the SQL
    # that reads and writes them is in nerdesk/core/store/terms.py)
    db.executescript(
        """
        -- One row per list. case_sensitive / lemma: the list's matching rules; version: one more
        -- for each change (terms added or removed, switched off or on).
        CREATE TABLE term_lists (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            source TEXT NOT NULL DEFAULT '',
            format TEXT NOT NULL,
            case_sensitive INTEGER NOT NULL DEFAULT 0,
            lemma INTEGER NOT NULL DEFAULT 0,
            enabled INTEGER NOT NULL DEFAULT 1,
            version INTEGER NOT NULL DEFAULT 1,
            guideline_version INTEGER,
            author TEXT NOT NULL,
            created TEXT NOT NULL,
            updated TEXT NOT NULL
        );
        -- kind: 'phrase' (pattern is the text) or 'tokens' (pattern is a Matcher pattern, JSON).
        -- version: the list version that added it; line: where it was read.
        CREATE TABLE terms (
            id INTEGER PRIMARY KEY,
            list_id INTEGER NOT NULL REFERENCES term_lists(id) ON DELETE CASCADE,
            label TEXT NOT NULL,
            pattern TEXT NOT NULL,
            kind TEXT NOT NULL,
            note TEXT NOT NULL DEFAULT '',
            line INTEGER NOT NULL,
            version INTEGER NOT NULL DEFAULT 1,
            enabled INTEGER NOT NULL DEFAULT 1
        );
        CREATE INDEX terms_list ON terms (list_id);
        -- The terms a list version added have been matched in every segment with an id up to
        -- matched_upto (resumable, like predictions: an import matches only the new segments).
        CREATE TABLE term_watermarks (
            list_id INTEGER NOT NULL REFERENCES term_lists(id) ON DELETE CASCADE,
            version INTEGER NOT NULL,
            matched_upto INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (list_id, version)
        );
        -- Every match of every term, in document characters (overlaps are resolved when read).
        CREATE TABLE term_matches (
            segment_id INTEGER NOT NULL REFERENCES segments(id) ON DELETE CASCADE,
            term_id INTEGER NOT NULL REFERENCES terms(id) ON DELETE CASCADE,
            start INTEGER NOT NULL,
            end INTEGER NOT NULL,
            PRIMARY KEY (segment_id, term_id, start)
        ) WITHOUT ROWID;
        CREATE INDEX term_matches_term ON term_matches (term_id);
        -- Each change of a list is a version, with its author, time and the guideline version then
        -- (no foreign key: a removed list keeps its history).
        CREATE TABLE term_versions (
            id INTEGER PRIMARY KEY,
            list_id INTEGER NOT NULL,
            list_name TEXT NOT NULL,
            version INTEGER NOT NULL,
            action TEXT NOT NULL,
            author TEXT NOT NULL,
            ts TEXT NOT NULL,
            guideline_version INTEGER,
            detail TEXT NOT NULL DEFAULT '{}'
        );
        CREATE INDEX term_versions_list ON term_versions (list_id, id);
        """
    )


@migrations()
def m006_review_tiers(db: Database) -> None:
    # who acted at which tier, review decisions, adjudications and the errors people made (issue 16;
    # the SQL that reads and writes them is in nerdesk/core/store/review.py)
    db.executescript(
        """
        -- The tier an event was made at (NULL for events older than this migration).
        ALTER TABLE events ADD COLUMN tier TEXT;
        -- Everyone whose work is in the project, with their tier: local users and bundle authors.
        CREATE TABLE people (
            name TEXT PRIMARY KEY,
            tier TEXT NOT NULL,
            source TEXT NOT NULL DEFAULT '',
            updated TEXT NOT NULL
        );
        -- A reviewer's decision on one version of an annotator's accepted annotation (the version is
        -- the annotation's updated time then): approve, correct or send_back (with a note).
        CREATE TABLE reviews (
            id INTEGER PRIMARY KEY,
            segment_id INTEGER NOT NULL REFERENCES segments(id) ON DELETE CASCADE,
            annotator TEXT NOT NULL,
            reviewed_updated TEXT NOT NULL,
            reviewer TEXT NOT NULL,
            tier TEXT NOT NULL,
            decision TEXT NOT NULL,
            note TEXT NOT NULL DEFAULT '',
            created TEXT NOT NULL
        );
        CREATE INDEX reviews_segment ON reviews (segment_id, annotator, id);
        -- The resolved spans of a conflicting segment, decided over the annotations whose digest is
        -- basis (a new or changed annotation makes the decision stale: the conflict is back).
        CREATE TABLE adjudications (
            id INTEGER PRIMARY KEY,
            segment_id INTEGER NOT NULL REFERENCES segments(id) ON DELETE CASCADE,
            adjudicator TEXT NOT NULL,
            tier TEXT NOT NULL,
            method TEXT NOT NULL,
            sources TEXT NOT NULL,
            spans TEXT NOT NULL,
            reason TEXT NOT NULL DEFAULT '',
            basis TEXT NOT NULL,
            created TEXT NOT NULL
        );
        CREATE INDEX adjudications_segment ON adjudications (segment_id, id);
        -- An error a person made, found by a reviewer's correction or an adjudication (source, ref:
        -- the review or adjudication row), categorised as corrections of a model are.
        CREATE TABLE person_errors (
            id INTEGER PRIMARY KEY,
            segment_id INTEGER NOT NULL REFERENCES segments(id) ON DELETE CASCADE,
            annotator TEXT NOT NULL,
            by_user TEXT NOT NULL,
            by_tier TEXT NOT NULL,
            source TEXT NOT NULL,
            ref INTEGER NOT NULL,
            category TEXT NOT NULL,
            label TEXT NOT NULL,
            annotated TEXT,
            final TEXT,
            surface TEXT NOT NULL,
            created TEXT NOT NULL
        );
        CREATE INDEX person_errors_annotator ON person_errors (annotator, category, label);
        CREATE INDEX person_errors_ref ON person_errors (source, ref);
        """
    )


@migrations()
def m007_guidelines_taxonomy(db: Database) -> None:
    # a guideline per label and label changes that migrate the work (issue 17; the SQL that reads
    # and writes them is in nerdesk/core/store/labels.py, the rules in nerdesk/core/taxonomy.py)
    db.executescript(
        """
        -- status: 'active', 'retired' (no longer annotated) or 'split' (its spans await re-review
        -- as one of the labels it was split into); parent: the label this one is a kind of;
        -- changed_version: the guideline version that last changed what the label means
        -- (annotations made under an older one are stale); guide: the label's guideline, JSON
        -- {definition, boundaries, nested, exceptions, positive: [...], negative: [...]}.
        ALTER TABLE labels ADD COLUMN status TEXT NOT NULL DEFAULT 'active';
        ALTER TABLE labels ADD COLUMN parent TEXT;
        ALTER TABLE labels ADD COLUMN changed_version INTEGER;
        ALTER TABLE labels ADD COLUMN guide TEXT NOT NULL DEFAULT '{}';
        -- what changed in this guideline version, in words
        ALTER TABLE guidelines ADD COLUMN summary TEXT NOT NULL DEFAULT '';
        -- The rows a label change rewrote that its reverse cannot recompute (a merge's non-base labels,
        -- a split's model-sorted spans, a retired label's spans), keyed by the change's event: undo puts
        -- them back. tbl: annotations (k1 segment, k2 annotator), predictions (k1 segment, k2 model),
        -- corrections (k1 id; value: the row as JSON), terms (k1 id; value: label and enabled as JSON).
        CREATE TABLE label_change_rows (
            event_id INTEGER NOT NULL,
            tbl TEXT NOT NULL,
            k1 INTEGER NOT NULL,
            k2 TEXT NOT NULL DEFAULT '',
            value TEXT,
            extra REAL,
            PRIMARY KEY (event_id, tbl, k1, k2)
        ) WITHOUT ROWID;
        """
    )


SCHEMA_VERSION = len(migrations._migrations)
