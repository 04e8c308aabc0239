import AptRepository
import DebianFormat
import GRDB

extension SQLiteStore {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE package_files (
                        id INTEGER PRIMARY KEY,
                        name TEXT NOT NULL,
                        version TEXT NOT NULL,
                        architecture TEXT NOT NULL,
                        source TEXT NOT NULL,
                        pool_path TEXT NOT NULL UNIQUE,
                        size INTEGER NOT NULL,
                        md5 TEXT NOT NULL,
                        sha1 TEXT NOT NULL,
                        sha256 TEXT NOT NULL,
                        sha512 TEXT NOT NULL,
                        control TEXT NOT NULL,
                        stanza TEXT NOT NULL,
                        added_at TEXT NOT NULL
                    );
                    CREATE INDEX package_files_by_name ON package_files(name, architecture);
                    CREATE TABLE listings (
                        distribution TEXT NOT NULL,
                        component TEXT NOT NULL,
                        file_id INTEGER NOT NULL REFERENCES package_files(id),
                        PRIMARY KEY (distribution, file_id)
                    );
                    CREATE TABLE history (
                        id INTEGER PRIMARY KEY,
                        date TEXT NOT NULL,
                        operation TEXT NOT NULL,
                        distribution TEXT NOT NULL,
                        user TEXT NOT NULL,
                        command TEXT NOT NULL,
                        note TEXT,
                        changes TEXT NOT NULL
                    );
                    CREATE TABLE unpublished (distribution TEXT PRIMARY KEY);
                    """)
        }
        migrator.registerMigration("v2: listings by file") { db in
            try db.execute(sql: "CREATE INDEX listings_by_file ON listings(file_id)")
        }
        // Each history entry records the listing rows its change added and removed, in order,
        // so that a rollback can undo it exactly, whatever Keep-Versions kept. Triggers write
        // the journal, so no code path that changes listings can forget to; the rows stay
        // unassigned (NULL) until `recordHistory` gives them their entry, in the same
        // transaction. Name, version and architecture are copied so that the journal still
        // reads after gc deleted a file beyond the retention window.
        migrator.registerMigration("v3: listing journal") { db in
            try db.execute(
                sql: """
                    CREATE TABLE listing_journal (
                        sequence INTEGER PRIMARY KEY,
                        history_id INTEGER REFERENCES history(id),
                        distribution TEXT NOT NULL,
                        component TEXT NOT NULL,
                        file_id INTEGER NOT NULL,
                        package TEXT NOT NULL,
                        version TEXT NOT NULL,
                        architecture TEXT NOT NULL,
                        listed INTEGER NOT NULL
                    );
                    CREATE INDEX listing_journal_by_entry ON listing_journal(history_id);
                    CREATE INDEX listing_journal_by_file ON listing_journal(file_id);
                    CREATE TRIGGER journal_listed AFTER INSERT ON listings BEGIN
                        INSERT INTO listing_journal
                            (distribution, component, file_id, package, version, architecture, listed)
                        SELECT NEW.distribution, NEW.component, NEW.file_id, name, version, architecture, 1
                        FROM package_files WHERE id = NEW.file_id;
                    END;
                    CREATE TRIGGER journal_unlisted AFTER DELETE ON listings BEGIN
                        INSERT INTO listing_journal
                            (distribution, component, file_id, package, version, architecture, listed)
                        SELECT OLD.distribution, OLD.component, OLD.file_id, name, version, architecture, 0
                        FROM package_files WHERE id = OLD.file_id;
                    END;
                    """)
        }
        migrator.registerMigration("v4: API tokens") { db in
            try db.execute(
                sql: """
                    CREATE TABLE tokens (
                        name TEXT PRIMARY KEY,
                        hash TEXT NOT NULL UNIQUE,
                        scopes TEXT NOT NULL,
                        created_at TEXT NOT NULL
                    );
                    """)
        }
        // The virtual names each file provides, so that a dependency check finds providers by
        // an index rather than by reading every control paragraph of a distribution.
        migrator.registerMigration("v5: provided names") { db in
            try db.execute(
                sql: """
                    CREATE TABLE provides (
                        file_id INTEGER NOT NULL REFERENCES package_files(id) ON DELETE CASCADE,
                        name TEXT NOT NULL,
                        version TEXT
                    );
                    CREATE INDEX provides_by_name ON provides(name);
                    CREATE INDEX provides_by_file ON provides(file_id);
                    """)
            let rows = try Row.fetchAll(
                db, sql: "SELECT id, control FROM package_files WHERE instr(control, 'Provides:') > 0")
            for row in rows {
                guard let paragraph = try? Deb822Document(parsing: row[1] as String).paragraphs.first else { continue }
                try MetadataStore.recordProvides(SQLiteTransaction(db), fileID: row[0], provides: paragraph["Provides"])
            }
        }
        // Files of the tree that nothing references any more, kept for the grace period of
        // the storage (clients and caches may still fetch them), from when gc or a publish
        // found them unreferenced.
        migrator.registerMigration("v6: storage garbage") { db in
            try db.execute(
                sql: """
                    CREATE TABLE storage_garbage (
                        path TEXT PRIMARY KEY,
                        since INTEGER NOT NULL
                    );
                    """)
        }
        // The configuration the repository was made with: a store that holds one is never
        // made into another repository.
        migrator.registerMigration("v7: repository configuration") { db in
            try db.execute(sql: "CREATE TABLE repository_configuration (configuration TEXT NOT NULL)")
        }
        migrator.registerMigration("v8: publication generations") { db in
            try db.execute(sql: PostgresSchema.publicationGenerations)
        }
        migrator.registerMigration("v9: release control") { db in
            try db.execute(
                sql: PostgresSchema.releaseControl + """
                    DROP TRIGGER journal_listed;
                    DROP TRIGGER journal_unlisted;
                    \(journalTriggers)
                    """)
        }
        // Ids that never go back: without AUTOINCREMENT, SQLite gives a new row the highest id
        // plus one, so a file gc deleted lent its id to the next push, and a rollback, an
        // approval or a soak that named the old file applied to the new one. The tables are
        // made anew (SQLite cannot change a key), and each counter starts past every id any
        // table or the journal still names.
        migrator.registerMigration("v10: identities never reused") { db in
            try db.execute(
                sql: """
                    DROP TRIGGER journal_listed;
                    DROP TRIGGER journal_unlisted;
                    CREATE TABLE package_files_new (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        name TEXT NOT NULL,
                        version TEXT NOT NULL,
                        architecture TEXT NOT NULL,
                        source TEXT NOT NULL,
                        pool_path TEXT NOT NULL UNIQUE,
                        size INTEGER NOT NULL,
                        md5 TEXT NOT NULL,
                        sha1 TEXT NOT NULL,
                        sha256 TEXT NOT NULL,
                        sha512 TEXT NOT NULL,
                        control TEXT NOT NULL,
                        stanza TEXT NOT NULL,
                        added_at TEXT NOT NULL
                    );
                    INSERT INTO package_files_new SELECT id, name, version, architecture, source, pool_path, size,
                        md5, sha1, sha256, sha512, control, stanza, added_at FROM package_files;
                    DROP TABLE package_files;
                    ALTER TABLE package_files_new RENAME TO package_files;
                    CREATE INDEX package_files_by_name ON package_files(name, architecture);
                    CREATE TABLE history_new (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        date TEXT NOT NULL,
                        operation TEXT NOT NULL,
                        distribution TEXT NOT NULL,
                        user TEXT NOT NULL,
                        command TEXT NOT NULL,
                        note TEXT,
                        changes TEXT NOT NULL,
                        overridden_gates TEXT
                    );
                    INSERT INTO history_new SELECT id, date, operation, distribution, user, command, note, changes,
                        overridden_gates FROM history;
                    DROP TABLE history;
                    ALTER TABLE history_new RENAME TO history;
                    \(journalTriggers)
                    DELETE FROM sqlite_sequence WHERE name IN ('package_files', 'history');
                    """)
            try db.execute(sql: "INSERT INTO sqlite_sequence (name, seq) VALUES ('package_files', \(PostgresSchema.highestFileID(.sqlite)))")
            try db.execute(sql: "INSERT INTO sqlite_sequence (name, seq) VALUES ('history', \(PostgresSchema.highestHistoryID(.sqlite)))")
        }
        migrator.registerMigration("v11: signing times") { db in
            try db.execute(sql: PostgresSchema.signingTimes)
        }
        migrator.registerMigration("v12: webhook outbox") { db in
            try db.execute(sql: PostgresSchema.webhookOutbox(identity: "INTEGER PRIMARY KEY AUTOINCREMENT"))
        }
        migrator.registerMigration("v13: made distributions") { db in
            try db.execute(sql: PostgresSchema.madeDistributions)
        }
        return migrator
    }

    /// The journal's triggers since release control (v9): each listing row added or removed
    /// is copied, with its phase, into `listing_journal`.
    static let journalTriggers = """
        CREATE TRIGGER journal_listed AFTER INSERT ON listings BEGIN
            INSERT INTO listing_journal
                (distribution, component, file_id, package, version, architecture, listed, phase)
            SELECT NEW.distribution, NEW.component, NEW.file_id, name, version, architecture, 1, NEW.phase
            FROM package_files WHERE id = NEW.file_id;
        END;
        CREATE TRIGGER journal_unlisted AFTER DELETE ON listings BEGIN
            INSERT INTO listing_journal
                (distribution, component, file_id, package, version, architecture, listed, phase)
            SELECT OLD.distribution, OLD.component, OLD.file_id, name, version, architecture, 0, OLD.phase
            FROM package_files WHERE id = OLD.file_id;
        END;
        """
}
