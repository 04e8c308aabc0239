import AptRepository
import DebianFormat
import Foundation
import GRDB
import Synchronization

/// A package received into `.depot/incoming/`: read, hashed and checked in the same pass that
/// copied it, ready to be renamed into the pool.
struct IncomingPackage: Sendable {
    var name: String
    var temporaryPath: String
    var deb: DebFile

    func discard() { unlink(temporaryPath) }

    /// A name in `.depot/incoming/` that tells gc which process the file belongs to: the pid,
    /// a token drawn once per process (so a dead process's leftovers never block a live one
    /// that got the same pid), and a counter.
    static func temporaryFileName() -> String {
        "\(processPrefix)-\(counter.add(1, ordering: .relaxed).newValue).deb"
    }
    private static let processPrefix = "\(getpid())-\(String(UInt64.random(in: 0...UInt64.max), radix: 36))"
    private static let counter = Atomic<Int>(0)

    /// The process that received a file, from its name; nil for a name Depot did not make.
    static func processID(fromFileName name: String) -> pid_t? {
        name.split(separator: "-", maxSplits: 1).first.flatMap { pid_t($0) }
    }
}

/// What the store records for a received package, worked out on every core before the
/// transaction, so that the transaction only writes rows and moves files.
struct PreparedFile: Sendable {
    var incoming: IncomingPackage
    var poolPath: String
    var stanza: String
    var controlText: String

    init(_ incoming: IncomingPackage, component: String) {
        let deb = incoming.deb
        self.incoming = incoming
        poolPath = PoolPath.of(
            component: component, source: deb.source, package: deb.package, version: deb.version,
            architecture: deb.architecture)
        stanza = IndexStanza.render(control: deb.control, filename: poolPath, checksums: deb.checksums)
        controlText = deb.control.rendered()
    }
}

extension Repository {
    public struct PushOutcome: Sendable, Codable {
        public enum Status: String, Sendable, Codable {
            /// Newly listed in the distribution.
            case added
            /// Already listed there: the same bytes were pushed before.
            case unchanged
        }
        public var file: String
        public var package: String
        public var version: String
        public var architecture: String
        public var poolPath: String
        public var status: Status
        /// Versions the push unlisted: beyond `Keep-Versions`, or newer ones on a downgrade.
        public var unlisted: [String]
    }

    /// Validates each file, stores it in the pool, lists it in `distribution` and republishes
    /// it: all files or none.
    ///
    /// `progress` is told how many files have been read, of how many, as reading goes on.
    public func push(
        _ paths: [String], to distribution: String, component: String? = nil, allowDowngrade: Bool = false,
        context: OperationContext, progress: (@Sendable (Int, Int) -> Void)? = nil
    ) throws -> [PushOutcome] {
        let component = try checkPushTarget(distribution, component: component)
        do {
            try DurableFiles.makeDirectory(incomingDirectory)
        } catch {
            throw DepotError.file(error)
        }
        // Every file is read, hashed and checked on all cores; then all must be acceptable.
        let counter = ProgressCounter(total: paths.count, report: progress)
        let received = try paths.concurrentMap { path in
            defer { counter.advance() }
            return Result { PreparedFile(try self.receive(path), component: component) }
        }
        let prepared = received.compactMap { try? $0.get() }
        do {
            for outcome in received { _ = try outcome.get() }
            return try push(
                prepared, to: distribution, component: component, allowDowngrade: allowDowngrade, context: context)
        } catch {
            for record in prepared { record.incoming.discard() }
            throw error
        }
    }

    /// Pushes a package received over the network (`Upload`), as `push` does files.
    public func push(
        _ upload: Upload, to distribution: String, component: String? = nil, allowDowngrade: Bool = false,
        context: OperationContext
    ) throws -> [PushOutcome] {
        let component = try checkPushTarget(distribution, component: component)
        return try push(
            [PreparedFile(try upload.received(), component: component)], to: distribution, component: component,
            allowDowngrade: allowDowngrade, context: context)
    }

    /// The component a push goes to, once the distribution and component are known to exist.
    private func checkPushTarget(_ distribution: String, component: String?) throws -> String {
        try requireDistribution(distribution)
        let component = component ?? configuration.components[0]
        guard configuration.components.contains(component) else {
            throw DepotError.unknownComponent(component, known: configuration.components)
        }
        return component
    }

    /// The store's and the pool's side of a push of received packages: all or none. Each
    /// temporary file is moved into the pool or deleted.
    private func push(
        _ prepared: [PreparedFile], to distribution: String, component: String, allowDowngrade: Bool,
        context: OperationContext
    ) throws -> [PushOutcome] {
        for package in prepared.map(\.incoming) {
            let architecture = package.deb.architecture
            guard architecture == Architecture.all || configuration.architectures.contains(architecture) else {
                throw DepotError.architectureNotCarried(
                    file: package.name, architecture: architecture, distribution: distribution,
                    carried: configuration.architectures)
            }
        }
        return try withLock {
            try publishPending()
            let mover = PoolMover()
            let outcomes: [PushOutcome]
            do {
                outcomes = try write { db in
                    let (outcomes, changes) = try self.list(
                        prepared, in: distribution, component: component, allowDowngrade: allowDowngrade,
                        timestamp: context.timestamp, mover: mover, db)
                    // Pool files reach the disk before the transaction that references them
                    // commits: one flush for the whole push rather than two fsyncs per package,
                    // made while the history is written.
                    do throws(FileError) {
                        try mover.finish()
                    } catch {
                        throw DepotError.file(error)
                    }
                    let flush =
                        mover.movedAny
                        ? BackgroundTask { [publicDirectory] in
                            try Result { () throws(FileError) in
                                try DurableFiles.syncFileSystem(containing: publicDirectory)
                            }.mapError(DepotError.file).get()
                        } : nil
                    if !changes.isEmpty {
                        _ = try MetadataStore.recordHistory(
                            db, operation: "push", distribution: distribution, context: context, changes: changes)
                        try MetadataStore.markUnpublished(db, distribution)
                    }
                    try flush?.value()
                    return outcomes
                }
            } catch {
                // The transaction rolled back: files it put into the pool are referenced by nothing.
                mover.undo()
                throw error
            }
            try publishPending()
            return outcomes
        }
    }

    /// Copies a file into `.depot/incoming/` while `DebFile` hashes and checks it.
    func receive(_ path: String) throws -> IncomingPackage {
        let temporary = incomingDirectory + "/" + IncomingPackage.temporaryFileName()
        let output = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard output >= 0 else { throw DepotError.file(FileError(path: temporary, operation: "create", code: errno)) }
        var keep = false
        defer {
            close(output)
            if !keep { unlink(temporary) }
        }
        var writeFailure: Int32?
        let deb: DebFile
        do {
            deb = try DebFile.read(path: path) { chunk in
                if writeFailure == nil { writeFailure = DurableFiles.append(chunk, to: output) }
            }
        } catch {
            throw DepotError.invalidPackage(error)
        }
        if let writeFailure {
            throw DepotError.file(FileError(path: temporary, operation: "write", code: writeFailure))
        }
        keep = true
        return IncomingPackage(name: path, temporaryPath: temporary, deb: deb)
    }

    /// The rows of a push, inside its transaction; `mover` moves the new files into the pool
    /// meanwhile.
    private func list(
        _ prepared: [PreparedFile], in distribution: String, component: String, allowDowngrade: Bool,
        timestamp: String, mover: PoolMover, _ db: Database
    ) throws -> ([PushOutcome], [Change]) {
        var outcomes: [PushOutcome] = []
        var changes: [Change] = []
        for record in prepared {
            let package = record.incoming
            let deb = package.deb
            let file = try storeFile(record, mover: mover, timestamp: timestamp, db)
            let result = try addListing(
                file, to: distribution, component: component, allowDowngrade: allowDowngrade,
                fileName: package.name, db)
            outcomes.append(
                PushOutcome(
                    file: package.name, package: deb.package, version: deb.version.description,
                    architecture: deb.architecture, poolPath: file.poolPath,
                    status: result.change == nil ? .unchanged : .added,
                    unlisted: result.unlisted))
            if let change = result.change { changes.append(change) }
        }
        return (outcomes, changes)
    }

    /// Records the file and has it moved into the pool, or finds the identical file already
    /// there and deletes the copy. The same name, version and architecture with other bytes is a
    /// conflict.
    private func storeFile(
        _ record: PreparedFile, mover: PoolMover, timestamp: String, _ db: Database
    ) throws -> PackageFile {
        let package = record.incoming
        let deb = package.deb
        let existing = try MetadataStore.files(db, name: deb.package, architecture: deb.architecture)
            .first { $0.debianVersion == deb.version }
        if let existing {
            guard existing.checksums.sha256 == deb.checksums.sha256 else {
                let listedIn = try String.fetchAll(
                    db, sql: "SELECT DISTINCT distribution FROM listings WHERE file_id = ? ORDER BY distribution",
                    arguments: [existing.id])
                throw DepotError.conflict(
                    file: package.name, package: deb.package, version: deb.version.description,
                    architecture: deb.architecture,
                    existingSHA256: existing.checksums.sha256, newSHA256: deb.checksums.sha256,
                    existingPath: existing.poolPath, listedIn: listedIn)
            }
            package.discard()
            return existing
        }
        let poolPath = record.poolPath
        try db.cachedStatement(
            sql: """
                INSERT INTO package_files (name, version, architecture, source, pool_path, size, md5, sha1, sha256, sha512,
                    control, stanza, added_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """
        ).execute(
            arguments: [
                deb.package, deb.version.description, deb.architecture, deb.source, poolPath, deb.checksums.size,
                deb.checksums.md5, deb.checksums.sha1, deb.checksums.sha256, deb.checksums.sha512,
                record.controlText, record.stanza, timestamp,
            ])
        let fileID = db.lastInsertedRowID
        try MetadataStore.recordProvides(db, fileID: fileID, provides: deb.control["Provides"])
        let file = PackageFile(
            id: fileID, name: deb.package, version: deb.version.description,
            architecture: deb.architecture,
            source: deb.source, poolPath: poolPath, checksums: deb.checksums)
        mover.move(package.temporaryPath, to: publicDirectory + "/" + poolPath)
        return file
    }

    struct ListingResult {
        var change: Change?
        var unlisted: [String]
    }

    /// Lists `file` in `distribution`, keeping at most `Keep-Versions` versions of its name and
    /// architecture there. A version lower than the newest listed one needs `allowDowngrade`,
    /// which unlists the newer ones.
    func addListing(
        _ file: PackageFile, to distribution: String, component: String, allowDowngrade: Bool, fileName: String,
        _ db: Database
    ) throws -> ListingResult {
        let listed = try MetadataStore.listings(db, distribution: distribution, name: file.name)
            .filter { $0.file.architecture == file.architecture }
        if listed.contains(where: { $0.file.id == file.id }) { return ListingResult(change: nil, unlisted: []) }
        let newest = listed.map(\.file).max { $0.debianVersion < $1.debianVersion }
        var unlisted: [PackageFile] = []
        if let newest, newest.debianVersion > file.debianVersion {
            guard allowDowngrade else {
                throw DepotError.downgrade(
                    file: fileName, package: file.name, version: file.version, newest: newest.version,
                    distribution: distribution)
            }
            unlisted += listed.map(\.file).filter { $0.debianVersion > file.debianVersion }
        }
        let keep = configuration.distribution(distribution)?.keepVersions ?? 1
        let remaining = listed.map(\.file).filter { candidate in !unlisted.contains { $0.id == candidate.id } }
            .sorted { $0.debianVersion > $1.debianVersion }
        unlisted += remaining.dropFirst(max(0, keep - 1))
        for old in unlisted {
            try MetadataStore.unlist(db, fileID: old.id, from: distribution)
        }
        try MetadataStore.list(db, fileID: file.id, in: distribution, component: component)
        return ListingResult(
            change: Change(
                package: file.name, architecture: file.architecture, before: newest?.version, after: file.version),
            unlisted: unlisted.map(\.version))
    }
}

/// Counts finished items from several threads and reports each step.
final class ProgressCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var done = 0
    private let total: Int
    private let report: (@Sendable (Int, Int) -> Void)?

    init(total: Int, report: (@Sendable (Int, Int) -> Void)?) {
        self.total = total
        self.report = report
    }

    func advance() {
        guard let report else { return }
        let count = lock.withLock {
            done += 1
            return done
        }
        report(count, total)
    }
}
