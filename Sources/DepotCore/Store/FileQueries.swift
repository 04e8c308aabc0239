import DebianFormat
import Foundation

/// `package_files` and `provides`: each package file once, however many distributions list it.
extension MetadataStore {
    static let fileColumns =
        "f.id, f.name, f.version, f.architecture, f.source, f.pool_path, f.size, f.md5, f.sha1, f.sha256, f.sha512"

    /// A row holding `fileColumns` (and no other column of these names).
    static func file(_ row: StoreRow) -> PackageFile {
        PackageFile(
            id: row["id"], name: row["name"], version: row["version"], architecture: row["architecture"],
            source: row["source"], poolPath: row["pool_path"],
            checksums: Checksums(
                size: row["size"], md5: row["md5"], sha1: row["sha1"], sha256: row["sha256"], sha512: row["sha512"]))
    }

    /// Every file of these names.
    static func files(_ db: any StoreTransaction, names: [String]) throws -> [PackageFile] {
        try db.rows(
            "SELECT \(fileColumns) FROM package_files f WHERE f.name IN \(db.dialect.jsonArrayValues)",
            [json(names)]
        ).map { file($0) }
    }

    /// Records the names a file's `Provides` field gives (nothing when it has none, or when
    /// the field does not parse: such a file provides nothing a check could rely on).
    static func recordProvides(_ db: any StoreTransaction, fileID: Int64, provides: String?) throws {
        guard let provides, let relations = try? RelationshipList(parsing: provides) else { return }
        for provided in relations.requirements.joined() {
            try db.execute(
                "INSERT INTO provides (file_id, name, version) VALUES (?, ?, ?)",
                [fileID, provided.package, provided.version?.version.description])
        }
    }

    /// Whether the store still holds the file (gc deletes files beyond `Retain-History`).
    static func fileExists(_ db: any StoreTransaction, _ id: Int64) throws -> Bool {
        try db.exists("SELECT 1 FROM package_files WHERE id = ?", [id])
    }

    /// The pool path of every file the store holds.
    static func poolPaths(_ db: any StoreTransaction) throws -> Set<String> {
        Set(try db.texts("SELECT pool_path FROM package_files"))
    }

    /// Every file, with its stanza as the store keeps it.
    static func filesWithStanzas(_ db: any StoreTransaction) throws -> [(file: PackageFile, stanza: String)] {
        try db.rows("SELECT \(fileColumns), f.stanza FROM package_files f").map { (file($0), $0["stanza"]) }
    }

    /// Records a file received by a push; its id.
    static func insertFile(
        _ db: any StoreTransaction, _ deb: DebFile, poolPath: String, control: String, stanza: String, added: String
    ) throws -> Int64 {
        try db.value(
            """
            INSERT INTO package_files (name, version, architecture, source, pool_path, size, md5, sha1, sha256, sha512,
                control, stanza, added_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id
            """,
            [
                deb.package, deb.version.description, deb.architecture, deb.source, poolPath, deb.checksums.size,
                deb.checksums.md5, deb.checksums.sha1, deb.checksums.sha256, deb.checksums.sha512, control, stanza,
                added,
            ]) ?? 0
    }

    /// The listed files that provide `name` in `distribution`: each with its component and
    /// the version it provides (nil for none).
    static func providers(_ db: any StoreTransaction, of name: String, in distribution: String) throws
        -> [(file: PackageFile, component: String, version: String?)]
    {
        try db.rows(
            """
            SELECT l.component, \(fileColumns), p.version AS provided_version
            FROM provides p JOIN package_files f ON f.id = p.file_id JOIN listings l ON l.file_id = f.id
            WHERE p.name = ? AND l.distribution = ?
            """,
            [name, distribution]
        ).map { (file($0), $0["component"], $0["provided_version"]) }
    }

    /// The names the files of these package names provide.
    static func providedNames(_ db: any StoreTransaction, by names: Set<String>) throws -> Set<String> {
        Set(
            try db.texts(
                """
                SELECT DISTINCT p.name FROM provides p JOIN package_files f ON f.id = p.file_id
                WHERE f.name IN \(db.dialect.jsonArrayValues)
                """,
                [try json(names.sorted())]))
    }

    /// The files `distribution` lists, with their control paragraphs: those whose control text
    /// mentions one of `mentioning`, or all (nil).
    static func listedControls(_ db: any StoreTransaction, in distribution: String, mentioning: Set<String>?) throws
        -> [(file: PackageFile, control: String)]
    {
        var sql = """
            SELECT \(fileColumns), f.control FROM listings l JOIN package_files f ON f.id = l.file_id
            WHERE l.distribution = ?
            """
        var arguments: [any StoreValueConvertible] = [distribution]
        if let mentioning {
            sql += " AND " + db.dialect.containsAnyOfJSONArray("f.control")
            arguments.append(try json(mentioning.sorted()))
        }
        return try db.rows(sql, arguments).map { (file($0), $0["control"]) }
    }

    /// The control paragraphs of these files, by id.
    static func controls(_ db: any StoreTransaction, of ids: [Int64]) throws -> [Int64: String] {
        let rows = try db.rows(
            "SELECT id, control FROM package_files WHERE id IN \(db.dialect.jsonArrayIntegers)", [try json(ids)])
        return Dictionary(rows.map { ($0["id"] as Int64, $0["control"] as String) }, uniquingKeysWith: { first, _ in first })
    }

    /// Whether the store holds a package of this name, or one that provides it.
    static func holdsName(_ db: any StoreTransaction, _ name: String) throws -> Bool {
        try db.exists(
            """
            SELECT 1 WHERE EXISTS (SELECT 1 FROM package_files WHERE name = ?)
                OR EXISTS (SELECT 1 FROM provides WHERE name = ?)
            """,
            [name, name])
    }
}
