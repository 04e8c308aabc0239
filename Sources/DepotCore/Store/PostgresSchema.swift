import Foundation

/// The PostgreSQL store's tables, the same as SQLite's (SQLiteStore's migrations), made in
/// versions recorded in `depot_schema`.
enum PostgresSchema {
    /// Each version's statements, in order; a version once released never changes.
    static let versions: [String] = [
        """
        CREATE TABLE package_files (
            id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            name TEXT NOT NULL,
            version TEXT NOT NULL,
            architecture TEXT NOT NULL,
            source TEXT NOT NULL,
            pool_path TEXT NOT NULL UNIQUE,
            size BIGINT NOT NULL,
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
            file_id BIGINT NOT NULL REFERENCES package_files(id),
            PRIMARY KEY (distribution, file_id)
        );
        CREATE INDEX listings_by_file ON listings(file_id);
        CREATE TABLE history (
            id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            date TEXT NOT NULL,
            operation TEXT NOT NULL,
            distribution TEXT NOT NULL,
            "user" TEXT NOT NULL,
            command TEXT NOT NULL,
            note TEXT,
            changes TEXT NOT NULL
        );
        CREATE TABLE unpublished (distribution TEXT PRIMARY KEY);
        CREATE TABLE listing_journal (
            sequence BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            history_id BIGINT REFERENCES history(id),
            distribution TEXT NOT NULL,
            component TEXT NOT NULL,
            file_id BIGINT NOT NULL,
            package TEXT NOT NULL,
            version TEXT NOT NULL,
            architecture TEXT NOT NULL,
            listed INTEGER NOT NULL
        );
        CREATE INDEX listing_journal_by_entry ON listing_journal(history_id);
        CREATE INDEX listing_journal_by_file ON listing_journal(file_id);
        CREATE FUNCTION journal_listing() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'INSERT' THEN
                INSERT INTO listing_journal (distribution, component, file_id, package, version, architecture, listed)
                SELECT NEW.distribution, NEW.component, NEW.file_id, name, version, architecture, 1
                FROM package_files WHERE id = NEW.file_id;
                RETURN NEW;
            END IF;
            INSERT INTO listing_journal (distribution, component, file_id, package, version, architecture, listed)
            SELECT OLD.distribution, OLD.component, OLD.file_id, name, version, architecture, 0
            FROM package_files WHERE id = OLD.file_id;
            RETURN OLD;
        END $$;
        CREATE TRIGGER journal_listings AFTER INSERT OR DELETE ON listings
            FOR EACH ROW EXECUTE FUNCTION journal_listing();
        CREATE TABLE tokens (
            name TEXT PRIMARY KEY,
            hash TEXT NOT NULL UNIQUE,
            scopes TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE TABLE provides (
            file_id BIGINT NOT NULL REFERENCES package_files(id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            version TEXT
        );
        CREATE INDEX provides_by_name ON provides(name);
        CREATE INDEX provides_by_file ON provides(file_id);
        CREATE TABLE storage_garbage (
            path TEXT PRIMARY KEY,
            since BIGINT NOT NULL
        );
        CREATE TABLE repository_configuration (configuration TEXT NOT NULL);
        """,
        publicationGenerations,
        releaseControl + """
            CREATE OR REPLACE FUNCTION journal_listing() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP = 'INSERT' THEN
                    INSERT INTO listing_journal
                        (distribution, component, file_id, package, version, architecture, listed, phase)
                    SELECT NEW.distribution, NEW.component, NEW.file_id, name, version, architecture, 1, NEW.phase
                    FROM package_files WHERE id = NEW.file_id;
                    RETURN NEW;
                END IF;
                INSERT INTO listing_journal
                    (distribution, component, file_id, package, version, architecture, listed, phase)
                SELECT OLD.distribution, OLD.component, OLD.file_id, name, version, architecture, 0, OLD.phase
                FROM package_files WHERE id = OLD.file_id;
                RETURN OLD;
            END $$;
            """,
        // Identity sequences never go back, but `store copy` used to set them to the highest id
        // still present, so a copy gave a file gc had deleted the id of the next push: each
        // goes on past every id any table or the journal names.
        """
        SELECT setval(pg_get_serial_sequence('package_files', 'id'), GREATEST(1, highest), highest > 0)
            FROM (SELECT \(highestFileID(.postgresql)) AS highest) AS named;
        SELECT setval(pg_get_serial_sequence('history', 'id'), GREATEST(1, highest), highest > 0)
            FROM (SELECT \(highestHistoryID(.postgresql)) AS highest) AS named;
        \(signingTimes)
        """,
        webhookOutbox(identity: "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"),
        madeDistributions,
    ]

    /// The distributions pushes made from templates (`pr-*`): when, from which template, and
    /// when `depot gc` expired one (its served tree then goes, `unpublished` once it has).
    /// Times in seconds since the epoch.
    static let madeDistributions = """
        CREATE TABLE made_distributions (
            name TEXT PRIMARY KEY,
            template TEXT NOT NULL,
            made_at BIGINT NOT NULL,
            expired_at BIGINT,
            unpublished INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX history_by_distribution ON history(distribution, id);
        """

    /// The webhook outbox: each change's delivery to each receiver, written in the change's
    /// transaction. `claimed_by` and `claimed_until` are the lease of the node delivering it;
    /// times are milliseconds since the epoch.
    static func webhookOutbox(identity: String) -> String {
        """
        CREATE TABLE webhook_deliveries (
            id \(identity),
            receiver TEXT NOT NULL,
            delivery TEXT NOT NULL,
            event TEXT NOT NULL,
            history_id BIGINT,
            body TEXT NOT NULL,
            recorded_at BIGINT NOT NULL,
            state TEXT NOT NULL,
            attempts INTEGER NOT NULL,
            next_at BIGINT NOT NULL,
            finished_at BIGINT,
            last_error TEXT,
            claimed_by TEXT,
            claimed_until BIGINT
        );
        CREATE INDEX webhook_deliveries_by_state ON webhook_deliveries(state, receiver, id);
        """
    }

    /// When each distribution's served `Release` was last signed, so that a server re-signs
    /// one with `Valid-For` before it expires; and when each dashboard session began (in
    /// microseconds), so that a token's oldest sessions are the ones its newest end; and the
    /// names of revoked tokens, which no later token takes (history and approvals name users
    /// by them).
    static let signingTimes = """
        ALTER TABLE publication ADD COLUMN signed_at BIGINT;
        ALTER TABLE sessions ADD COLUMN began BIGINT NOT NULL DEFAULT 0;
        CREATE TABLE revoked_tokens (name TEXT PRIMARY KEY, revoked_at TEXT NOT NULL);
        """

    /// The highest file id any table or the journal names (0 for none): a counter of file ids
    /// goes on past it.
    static func highestFileID(_ dialect: StoreDialect) -> String {
        dialect.greatest(
            "(SELECT MAX(id) FROM package_files)", "(SELECT MAX(file_id) FROM listing_journal)",
            "(SELECT MAX(file_id) FROM listings)", "(SELECT MAX(file_id) FROM approvals)",
            "(SELECT MAX(file_id) FROM provides)")
    }

    /// The highest history id any table names (0 for none).
    static func highestHistoryID(_ dialect: StoreDialect) -> String {
        dialect.greatest("(SELECT MAX(id) FROM history)", "(SELECT MAX(history_id) FROM listing_journal)")
    }

    /// Each distribution's generation: `recorded` counts the changes made to it, `published`
    /// is the generation its served tree shows. A publish renders one generation and records
    /// it only upwards, so a node that stalled can never mark an older state as the current
    /// one. Written so that SQLite takes it too.
    static let publicationGenerations = """
        CREATE TABLE publication (
            distribution TEXT PRIMARY KEY,
            recorded BIGINT NOT NULL,
            published BIGINT NOT NULL
        );
        INSERT INTO publication (distribution, recorded, published) SELECT distribution, 1, 0 FROM unpublished;
        DROP TABLE unpublished;
        """

    /// Phased rollouts and promotion gates, in the tables both stores share (each store then
    /// has its journal copy the phase in its own trigger language).
    ///
    /// A listing's `phase` is its `Phased-Update-Percentage` (NULL: fully rolled out), and
    /// the journal keeps it, so a rollback restores a percentage as it restores a listing.
    /// `phase_ramps` holds the steps of a rollout still to come; `approvals`, who approved a
    /// file for promotion into a distribution; `history.overridden_gates`, the gates a
    /// promotion was let past; `sessions`, the dashboard's signed-in browsers (by the hash of
    /// their cookie, acting as the token whose hash they keep), shared by every node.
    static let releaseControl = """
        ALTER TABLE listings ADD COLUMN phase INTEGER;
        ALTER TABLE listing_journal ADD COLUMN phase INTEGER;
        ALTER TABLE history ADD COLUMN overridden_gates TEXT;
        CREATE TABLE phase_ramps (
            distribution TEXT NOT NULL,
            package TEXT NOT NULL,
            version TEXT NOT NULL,
            steps TEXT NOT NULL,
            every_seconds BIGINT NOT NULL,
            next_at BIGINT NOT NULL,
            "user" TEXT NOT NULL,
            PRIMARY KEY (distribution, package)
        );
        CREATE TABLE approvals (
            distribution TEXT NOT NULL,
            file_id BIGINT NOT NULL REFERENCES package_files(id) ON DELETE CASCADE,
            "user" TEXT NOT NULL,
            date TEXT NOT NULL,
            note TEXT,
            PRIMARY KEY (distribution, file_id, "user")
        );
        CREATE TABLE sessions (
            hash TEXT PRIMARY KEY,
            token_hash TEXT NOT NULL,
            csrf TEXT NOT NULL,
            expires BIGINT NOT NULL
        );

        """

    /// The statements of a version, one at a time (a prepared statement holds one): split
    /// at each `;` that ends a line outside a `$$` function body.
    static func statements(of text: String) -> [String] {
        var statements: [String] = []
        var current = ""
        var inBody = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            current += line + "\n"
            if line.components(separatedBy: "$$").count % 2 == 0 { inBody.toggle() }
            if !inBody && line.hasSuffix(";") {
                statements.append(current)
                current = ""
            }
        }
        if !current.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { statements.append(current) }
        return statements
    }

    /// Brings the schema to the newest version, in the caller's transaction; refuses a
    /// database of another application and one a newer Depot migrated.
    static func migrate(_ db: any StoreTransaction, location: String) throws {
        // One migration at a time, however many nodes start at once.
        try db.execute("SELECT pg_advisory_xact_lock(7631084253)")
        let hasSchemaTable = try db.exists(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'depot_schema'")
        if !hasSchemaTable {
            let others = try db.texts(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY table_name")
            guard others.isEmpty else {
                throw DepotError.storage(
                    "\(location): the database holds tables that are not Depot's (\(others.prefix(3).joined(separator: ", "))); "
                        + "give Depot a database of its own")
            }
            try db.execute("CREATE TABLE depot_schema (version INTEGER NOT NULL)")
            try db.execute("INSERT INTO depot_schema (version) VALUES (0)")
        }
        let current: Int = try db.value("SELECT version FROM depot_schema") ?? 0
        guard current <= versions.count else {
            throw DepotError.storage(
                "\(location): the store was migrated by a newer Depot (schema \(current), this Depot knows \(versions.count)); "
                    + "upgrade Depot on this node")
        }
        for version in versions.indices.dropFirst(current) {
            for statement in statements(of: versions[version]) { try db.execute(statement) }
            try db.execute("UPDATE depot_schema SET version = ?", [version + 1])
        }
    }
}
