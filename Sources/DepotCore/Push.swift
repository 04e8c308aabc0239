import AptRepository
import DebianFormat
import Foundation
import Synchronization

/// A package read into the repository, hashed and checked: already at its pool path, or
/// waiting in `.depot/incoming/` for the push's transaction to decide.
struct IncomingPackage: Sendable {
    enum Location: Sendable {
        /// At its pool path, named there by this push; `PoolMover` deletes it if the push fails.
        case pool
        /// At this temporary path in `.depot/incoming/`.
        case incoming(String)
    }

    var name: String
    var location: Location
    var deb: DebFile

    /// Deletes the temporary copy, if there is one.
    func discard() {
        if case .incoming(let path) = location { unlink(path) }
    }

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

    init(_ incoming: IncomingPackage, component: String) throws(DepotError) {
        let deb = incoming.deb
        self.incoming = incoming
        poolPath = PoolPath.of(
            component: component, source: deb.source, package: deb.package, version: deb.version,
            architecture: deb.architecture)
        do {
            stanza = try IndexStanza.render(control: deb.control, filename: poolPath, checksums: deb.checksums)
        } catch {
            throw .invalidPackage(DebFileError(file: incoming.name, problem: .unrepresentableField(error)))
        }
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
        overrideGates: Bool = false, context: OperationContext, progress: (@Sendable (Int, Int) -> Void)? = nil
    ) throws -> [PushOutcome] {
        let component = try checkPushTarget(distribution, component: component, overrideGates: overrideGates)
        do {
            try DurableFiles.makeDirectory(incomingDirectory)
        } catch {
            throw DepotError.file(error)
        }
        // Files are written into the pool as they are read, so the lock is held from the
        // start: gc must not take them for a killed push's leftovers.
        return try withLock(cancelled: context.isCancelled) {
            try publishEarlierChanges()
            let mover = storage.poolWriter()
            // Every file is read, hashed, checked and written on all cores; then all must be
            // acceptable.
            let counter = ProgressCounter(total: paths.count, report: progress)
            let received = try paths.concurrentMap { path in
                defer { counter.advance() }
                return Result { try self.receive(path, component: component, mover: mover) }
            }
            // The files named in the pool while reading start on their way to the disk now,
            // while the transaction writes rows and the index is compressed.
            let readAll = received.allSatisfy { if case .success = $0 { true } else { false } }
            let flush = readAll ? mover.flushPlaced() : nil
            return try push(
                received, to: distribution, component: component, allowDowngrade: allowDowngrade,
                overrideGates: overrideGates, context: context, mover: mover, flushing: flush)
        }
    }

    /// Pushes a package received over the network (`Upload`), as `push` does files.
    public func push(
        _ upload: Upload, to distribution: String, component: String? = nil, allowDowngrade: Bool = false,
        overrideGates: Bool = false, context: OperationContext
    ) throws -> [PushOutcome] {
        let component = try checkPushTarget(distribution, component: component, overrideGates: overrideGates)
        let received = Result { try PreparedFile(try upload.received(), component: component) }
        return try withLock(cancelled: context.isCancelled) {
            try publishEarlierChanges()
            return try push(
                [received], to: distribution, component: component, allowDowngrade: allowDowngrade,
                overrideGates: overrideGates, context: context, mover: storage.poolWriter())
        }
    }

    /// The component a push goes to, once the distribution and component are known to exist
    /// and its gates let a push in: a gated distribution takes files only by promotion, which
    /// its gates check, unless `overrideGates` (recorded).
    private func checkPushTarget(_ distribution: String, component: String?, overrideGates: Bool) throws -> String {
        try requireDistribution(distribution)
        if let gated = configuration.distribution(distribution), gated.hasGates, !overrideGates {
            throw DepotError.gatesClosed([
                "\(distribution) has promotion gates (\(gated.gateNames.joined(separator: ", "))), so a push straight "
                    + "into it is refused; push into \((try? source(of: distribution)) ?? "the distribution before it") "
                    + "and promote"
            ], refused: "push")
        }
        let component = component ?? configuration.components[0]
        guard configuration.components.contains(component) else {
            throw DepotError.unknownComponent(component, known: configuration.components)
        }
        return component
    }

    /// The store's side of a push of received packages, holding the lock: all or none. On
    /// failure, the files the push put into the pool and the temporary ones are deleted.
    /// `flushing` is the flush of the files named in the pool while reading, if one was started.
    private func push(
        _ received: [Result<PreparedFile, any Error>], to distribution: String, component: String,
        allowDowngrade: Bool, overrideGates: Bool, context: OperationContext, mover: any PoolWriter,
        flushing placed: BackgroundTask<Void>? = nil
    ) throws -> [PushOutcome] {
        var prepared = received.compactMap { try? $0.get() }
        let outcomes: [PushOutcome]
        let precompression: BackgroundTask<PrecompressedChunks>?
        do {
            for outcome in received { _ = try outcome.get() }
            if storage.isShared { prepared = try upload(prepared, mover: mover) }
            for package in prepared.map(\.incoming) {
                let architecture = package.deb.architecture
                guard architecture == Architecture.all || configuration.architectures.contains(architecture) else {
                    throw DepotError.architectureNotCarried(
                        file: package.name, architecture: architecture, distribution: distribution,
                        carried: configuration.architectures)
                }
            }
            precompression = try precompressIndices(adding: prepared, to: distribution, component: component)
            outcomes = try write { db in
                let (outcomes, changes) = try self.list(
                    prepared, in: distribution, component: component, allowDowngrade: allowDowngrade,
                    timestamp: context.timestamp, mover: mover, db)
                // Pool files are stored for good before the transaction that references them
                // commits; on a local disk by flushes made while the history is written.
                let flush = try mover.finish()
                if !changes.isEmpty {
                    let gates = self.configuration.distribution(distribution)?.gateNames ?? []
                    _ = try MetadataStore.recordHistory(
                        db, operation: "push", distribution: distribution, context: context, changes: changes,
                        overriddenGates: overrideGates ? gates : [])
                    try MetadataStore.markUnpublished(db, distribution)
                }
                try placed?.value()
                try flush?.value()
                return outcomes
            }
        } catch {
            // Nothing was committed: files this push put into the pool are referenced by nothing.
            for record in prepared { record.incoming.discard() }
            mover.undo()
            throw error
        }
        // Best effort: publishing compresses whatever the guess missed.
        let precompressed = (try? precompression?.value()) ?? PrecompressedChunks()
        try publishRecorded("push", outcomes: outcomes, precompressed: precompressed)
        return outcomes
    }

    /// Puts into a shared storage, before the push's transaction, the files the store does not
    /// know yet, and returns the records with those marked as in the pool: a transaction open
    /// across uploads would hold up every other node's changes.
    ///
    /// Uploads create objects and never replace one a client may be reading, so another node
    /// pushing the same bytes meanwhile is harmless; what the transaction then decides
    /// otherwise (a conflict found after all) leaves an unreferenced object for gc.
    private func upload(_ prepared: [PreparedFile], mover: any PoolWriter) throws -> [PreparedFile] {
        let names = Array(Set(prepared.map(\.incoming.deb.package)))
        let (recorded, kept) = try read { db in
            let recorded = Set(try MetadataStore.files(db, names: names).map(\.poolPath))
            let new = prepared.map(\.poolPath).filter { !recorded.contains($0) }
            return (recorded, try MetadataStore.keptForClients(db, paths: new))
        }
        var result = prepared
        for index in result.indices {
            let record = result[index]
            guard case .incoming(let temporary) = record.incoming.location, !recorded.contains(record.poolPath) else {
                continue
            }
            mover.move(
                temporary, to: record.poolPath, checksums: record.incoming.deb.checksums,
                replaceable: !kept.contains(record.poolPath))
            result[index].incoming.location = .pool
        }
        _ = try mover.finish()
        return result
    }

    /// Compresses, on the cores the rest of the push leaves idle, the index chunks this push
    /// will most likely publish, for publishing after the commit to use. The guess: the
    /// distribution's indices as committed, with the new files added and at most
    /// `Keep-Versions` versions of each name and architecture. A wrong guess costs time, never
    /// correctness: publishing compresses whatever it does not find.
    ///
    /// Nil for a push of few files: each changes at most one chunk, which publishing
    /// compresses sooner than the whole distribution could be read for a guess.
    private func precompressIndices(
        adding prepared: [PreparedFile], to distribution: String, component: String
    ) throws -> BackgroundTask<PrecompressedChunks>? {
        guard prepared.count >= 64 else { return nil }
        // Read here, on the store's connection, before the transaction: a second connection
        // reading meanwhile would change how SQLite leaves its WAL file behind.
        let committed = try read { db in
            var rows: [String: [IndexRow]] = [:]
            for indexComponent in configuration.components {
                for architecture in configuration.architectures {
                    rows[indexComponent + "/" + architecture] = try MetadataStore.stanzas(
                        db, distribution: distribution, component: indexComponent, architecture: architecture)
                }
            }
            return rows
        }
        let keep = configuration.distribution(distribution)?.keepVersions ?? 1
        let added = prepared.map { record in
            let deb = record.incoming.deb
            return IndexRow(
                name: deb.package, version: deb.version.description, architecture: deb.architecture,
                stanza: record.stanza, phase: nil)
        }
        return BackgroundTask { [publisher] in
            let predicted = self.indices { indexComponent, architecture in
                let rows = committed[indexComponent + "/" + architecture] ?? []
                guard indexComponent == component else { return rows }
                let new = added.filter { $0.architecture == architecture || $0.architecture == Architecture.all }
                return Self.newest(keep, of: rows + new)
            }
            return try publisher.precompress(predicted)
        }
    }

    /// Of each name and architecture's rows, the `keep` highest versions, the first row of
    /// each version.
    static func newest(_ keep: Int, of rows: [IndexRow]) -> [IndexRow] {
        let groups = Dictionary(grouping: rows) { PackageKey(name: $0.name, architecture: $0.architecture) }
        return groups.values.flatMap { group -> [IndexRow] in
            guard group.count > 1 else { return group }
            var seen = Set<String>()
            let distinct = group.filter { seen.insert($0.version).inserted }
            let versions = distinct.map { (row: $0, version: try? DebianVersion($0.version)) }
            let sorted = versions.sorted { a, b in
                guard let left = a.version, let right = b.version else { return false }
                return left > right
            }
            return sorted.prefix(max(1, keep)).map(\.row)
        }
    }

    /// Reads `path` while `DebFile` hashes and checks it, and writes it into the pool at its
    /// pool path; where another file has that name already, into `.depot/incoming/` instead,
    /// for the transaction to decide.
    ///
    /// The copy is written as a file with no name, then named: nobody sees it half written
    /// and a crash leaves nothing behind. (File systems that cannot do that get a temporary
    /// name in `.depot/incoming/`.)
    func receive(_ path: String, component: String, mover: any PoolWriter) throws -> PreparedFile {
        let unnamed: Int32?
        do {
            unnamed = try DurableFiles.openUnnamed(in: incomingDirectory)
        } catch {
            throw DepotError.file(error)
        }
        let temporary = incomingDirectory + "/" + IncomingPackage.temporaryFileName()
        let output = unnamed ?? open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard output >= 0 else { throw DepotError.file(FileError(path: temporary, operation: "create", code: errno)) }
        var temporaryExists = unnamed == nil
        var received = false
        defer {
            close(output)
            if temporaryExists && !received { unlink(temporary) }
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
            let written = unnamed == nil ? temporary : incomingDirectory
            throw DepotError.file(FileError(path: written, operation: "write", code: writeFailure))
        }
        var prepared = try PreparedFile(
            IncomingPackage(name: path, location: .incoming(temporary), deb: deb), component: component)
        if unnamed != nil {
            do throws(FileError) {
                if try mover.place(output, at: prepared.poolPath) {
                    prepared.incoming.location = .pool
                } else {
                    guard try DurableFiles.link(output, to: temporary) else {
                        throw FileError(path: temporary, operation: "create", code: EEXIST)
                    }
                    temporaryExists = true
                }
            } catch {
                throw DepotError.file(error)
            }
        }
        received = true
        return prepared
    }

    /// The rows of a push, inside its transaction; `mover` moves the new files into the pool
    /// meanwhile.
    private func list(
        _ prepared: [PreparedFile], in distribution: String, component: String, allowDowngrade: Bool,
        timestamp: String, mover: any PoolWriter, _ db: any StoreTransaction
    ) throws -> ([PushOutcome], [Change]) {
        // What the store has for these names, read in two queries rather than two per file,
        // and kept up to date as the files are recorded and listed.
        let names = Array(Set(prepared.map(\.incoming.deb.package)))
        var known = Dictionary(grouping: try MetadataStore.files(db, names: names)) { PackageKey($0) }
        var listed = Dictionary(
            grouping: try MetadataStore.listings(db, distribution: distribution, names: names).map(\.file)
        ) { PackageKey($0) }
        var outcomes: [PushOutcome] = []
        var changes: [Change] = []
        let writes = MetadataStore.ListingWrites()
        for record in prepared {
            let package = record.incoming
            let deb = package.deb
            let key = PackageKey(name: deb.package, architecture: deb.architecture)
            let file = try storeFile(record, known: &known[key, default: []], mover: mover, timestamp: timestamp, db)
            let result = try addListing(
                file, to: distribution, component: component, allowDowngrade: allowDowngrade,
                fileName: package.name, listed: &listed[key, default: []], writes: writes)
            outcomes.append(
                PushOutcome(
                    file: package.name, package: deb.package, version: deb.version.description,
                    architecture: deb.architecture, poolPath: file.poolPath,
                    status: result.change == nil ? .unchanged : .added,
                    unlisted: result.unlisted))
            if let change = result.change { changes.append(change) }
        }
        try writes.flush(db)
        return (outcomes, changes)
    }

    /// Records the file and has it moved into the pool if it is not there yet, or finds the
    /// identical file recorded already (in `known`, the recorded files of its name and
    /// architecture) and deletes the copy. The same name, version and architecture with other
    /// bytes is a conflict.
    private func storeFile(
        _ record: PreparedFile, known: inout [PackageFile], mover: any PoolWriter, timestamp: String,
        _ db: any StoreTransaction
    ) throws -> PackageFile {
        let package = record.incoming
        let deb = package.deb
        let existing = known.first { $0.debianVersion == deb.version }
        if let existing {
            guard existing.checksums.sha256 == deb.checksums.sha256 else {
                let listedIn = try MetadataStore.distributions(listing: existing.id, db)
                throw DepotError.conflict(
                    file: package.name, package: deb.package, version: deb.version.description,
                    architecture: deb.architecture,
                    existingSHA256: existing.checksums.sha256, newSHA256: deb.checksums.sha256,
                    existingPath: existing.poolPath, listedIn: listedIn)
            }
            // A copy named at its pool path restores a pool file that had gone missing.
            package.discard()
            return existing
        }
        let poolPath = record.poolPath
        // The pool's file name leaves the epoch out (as Debian's does), so 1:1.0-1 and
        // 2:1.0-1 would share one file: refused, as dak and reprepro refuse it.
        if let sharing = known.first(where: { $0.poolPath == poolPath }) {
            throw DepotError.poolPathTaken(
                file: package.name, package: deb.package, version: deb.version.description,
                architecture: deb.architecture, existingVersion: sharing.version, poolPath: poolPath,
                listedIn: try MetadataStore.distributions(listing: sharing.id, db))
        }
        let fileID: Int64 =
            try db.value(
                """
                INSERT INTO package_files (name, version, architecture, source, pool_path, size, md5, sha1, sha256, sha512,
                    control, stanza, added_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id
                """,
                [
                    deb.package, deb.version.description, deb.architecture, deb.source, poolPath, deb.checksums.size,
                    deb.checksums.md5, deb.checksums.sha1, deb.checksums.sha256, deb.checksums.sha512,
                    record.controlText, record.stanza, timestamp,
                ]) ?? 0
        try MetadataStore.recordProvides(db, fileID: fileID, provides: deb.control["Provides"])
        let file = PackageFile(
            id: fileID, name: deb.package, version: deb.version.description,
            architecture: deb.architecture,
            source: deb.source, poolPath: poolPath, checksums: deb.checksums)
        known.append(file)
        if case .incoming(let temporary) = package.location {
            mover.move(
                temporary, to: poolPath, checksums: deb.checksums,
                replaceable: !(try MetadataStore.isKeptForClients(db, path: poolPath)))
        }
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
        _ db: any StoreTransaction
    ) throws -> ListingResult {
        var listed = try MetadataStore.listings(db, distribution: distribution, name: file.name)
            .map(\.file).filter { $0.architecture == file.architecture }
        let writes = MetadataStore.ListingWrites()
        let result = try addListing(
            file, to: distribution, component: component, allowDowngrade: allowDowngrade, fileName: fileName,
            listed: &listed, writes: writes)
        try writes.flush(db)
        return result
    }

    /// `addListing`, given the files of the name and architecture listed in `distribution`,
    /// which it updates, and keeping the rows to write in `writes`: for callers listing many
    /// files, who read those in one query and write the rows together.
    func addListing(
        _ file: PackageFile, to distribution: String, component: String, phase: Int? = nil, allowDowngrade: Bool,
        fileName: String, listed: inout [PackageFile], writes: MetadataStore.ListingWrites
    ) throws -> ListingResult {
        if listed.contains(where: { $0.id == file.id }) { return ListingResult(change: nil, unlisted: []) }
        let newest = listed.max { $0.debianVersion < $1.debianVersion }
        var unlisted: [PackageFile] = []
        if let newest, newest.debianVersion > file.debianVersion {
            guard allowDowngrade else {
                throw DepotError.downgrade(
                    file: fileName, package: file.name, version: file.version, newest: newest.version,
                    distribution: distribution)
            }
            unlisted += listed.filter { $0.debianVersion > file.debianVersion }
        }
        let keep = configuration.distribution(distribution)?.keepVersions ?? 1
        let remaining = listed.filter { candidate in !unlisted.contains { $0.id == candidate.id } }
            .sorted { $0.debianVersion > $1.debianVersion }
        unlisted += remaining.dropFirst(max(0, keep - 1))
        for old in unlisted {
            writes.unlist(fileID: old.id, from: distribution)
        }
        writes.list(fileID: file.id, in: distribution, component: component, phase: phase)
        listed = listed.filter { candidate in !unlisted.contains { $0.id == candidate.id } } + [file]
        return ListingResult(
            change: Change(
                package: file.name, architecture: file.architecture, before: newest?.version, after: file.version,
                afterPhase: phase),
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
