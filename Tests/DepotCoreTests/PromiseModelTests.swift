import Crypto
import DepotCore
import DepotTestSupport
import Foundation
import Synchronization
import Testing

/// The whole promise, held as an invariant: random sequences of every operation Depot has,
/// run in-process against a real repository and against a plain model of what each should
/// do. After every step each distribution lists exactly what the model says, each listed file
/// holds exactly the bytes pushed under its name and version, every operation succeeds or is
/// refused as the model decides (gates and four eyes included), and `verify` passes; every
/// few steps the real apt-get sees exactly the model, and a real webhook receiver has had
/// every change, in the order they were made, from the outbox they were recorded in.
///
/// `DEPOT_MODEL_SEED` replays a run; `DEPOT_MODEL_STEPS` sets its length (default 300). The
/// default seed is one whose run finds the id reuse of a file gc deleted (a four-eyes check
/// that named the old file's pusher) when the ids' counter is taken away.
///
/// Both runs keep off Swift concurrency's pool, so that they go on beside the rest of the
/// suite from its start rather than holding one of its threads.
@Suite(.offThePool) struct PromiseModelTests {
    static var seed: UInt64 {
        ProcessInfo.processInfo.environment["DEPOT_MODEL_SEED"].flatMap(UInt64.init) ?? 1
    }
    static var steps: Int { ProcessInfo.processInfo.environment["DEPOT_MODEL_STEPS"].flatMap(Int.init) ?? 300 }
    /// For long runs: `verify` every this many steps (the listings and bytes are still checked
    /// after every step).
    static var verifyEvery: Int {
        ProcessInfo.processInfo.environment["DEPOT_MODEL_VERIFY_EVERY"].flatMap(Int.init) ?? 1
    }

    @Test func theModelHoldsOnSQLite() throws {
        let run = try ModelRun(seed: Self.seed, postgres: nil)
        defer { run.remove() }
        try run.steps(Self.steps)
    }

    @Test func theModelHoldsOnPostgreSQL() throws {
        let server = try PostgresServer()
        defer { server.stop() }
        // The store reads its password from the environment, as on a node.
        setenv("PGPASSWORD", PostgresServer.password, 1)
        setenv("PGPASSFILE", "/nonexistent", 1)
        let run = try ModelRun(seed: Self.seed &+ 1, postgres: server)
        defer { run.remove() }
        try run.steps(Self.steps / 2)
    }
}

/// A name and version of a package (one architecture: amd64).
struct ModelKey: Hashable, Comparable, CustomStringConvertible {
    var name: String
    var version: Int

    var versionText: String { "\(version).0-1" }
    var description: String { "\(name) \(versionText)" }
    static func < (a: Self, b: Self) -> Bool { (a.name, a.version) < (b.name, b.version) }
}

/// The plain model: pool files by identity, what each distribution lists, its history.
struct Model {
    /// One stored file: a new identity each time a name and version enters the pool anew.
    struct File: Hashable {
        var identity: Int
        var key: ModelKey
        var variant: Int
    }
    /// A listing's state: its phase (nil when fully rolled out).
    struct Listed: Hashable {
        var phase: Int?
    }
    /// One history entry: each file it touched, with its state before and after.
    struct Entry {
        var before: [Int: Listed?] = [:]
        var after: [Int: Listed?] = [:]
    }

    static let distributions = ["development", "staging", "production"]
    static let retainHistory = 3

    var files: [Int: File] = [:]
    var stored: [ModelKey: Int] = [:]
    var nextIdentity = 1
    var listings: [String: [Int: Listed]] = [:]
    var history: [String: [Entry]] = [:]
    /// The user of the push that first listed each file.
    var pushers: [Int: String] = [:]
    /// Who approved each file for production.
    var approvals: [Int: Set<String>] = [:]

    func listed(_ distribution: String, name: String) -> [File] {
        (listings[distribution] ?? [:]).keys.compactMap { files[$0] }.filter { $0.key.name == name }
    }

    /// Applies listing changes as one history entry (none when nothing changed).
    mutating func record(_ distribution: String, _ changes: [(identity: Int, after: Listed?)]) {
        var entry = Entry()
        for (identity, after) in changes {
            let before = listings[distribution]?[identity]
            guard before != after else { continue }
            if entry.before[identity] == nil { entry.before[identity] = .some(before) }
            entry.after[identity] = .some(after)
            listings[distribution, default: [:]][identity] = after
        }
        if !entry.after.isEmpty { history[distribution, default: []].append(entry) }
    }

    /// What listing `file` in `distribution` changes (Keep-Versions 1, no downgrade), or why not.
    func listing(_ file: File, in distribution: String) -> Result<[(identity: Int, after: Listed?)], ModelRefusal> {
        let listed = listed(distribution, name: file.key.name)
        if listed.contains(where: { $0.identity == file.identity }) { return .success([]) }
        if let newest = listed.map(\.key.version).max(), newest > file.key.version { return .failure(.downgrade) }
        return .success(listed.map { ($0.identity, nil) } + [(file.identity, Listed(phase: nil))])
    }

    /// The files gc keeps: listed somewhere, or touched by a retained history entry.
    func referenced() -> Set<Int> {
        var kept = Set(listings.values.flatMap(\.keys))
        for entries in history.values {
            for entry in entries.suffix(Self.retainHistory) { kept.formUnion(entry.before.keys) }
        }
        return kept
    }
}

enum ModelRefusal: Error, Equatable {
    case conflict, downgrade, notListed, gates, fourEyes, alreadyApproved, nothingToRollBack, collected
}

/// One run: a real repository and the model, driven by one seeded generator.
final class ModelRun {
    let root: URL
    var repository: Repository
    var model = Model()
    var random: SeededGenerator
    let postgres: PostgresServer?
    let seed: UInt64
    var step = 0
    var databases = 0
    let users = ["alice", "bob", "carol"]
    let names = ["ant", "bee", "cat"]
    let scratch: URL
    /// Told of every change by the outbox, every few steps.
    let receiver: WebhookReceiver

    init(seed: UInt64, postgres: PostgresServer?) throws {
        self.seed = seed
        self.postgres = postgres
        random = SeededGenerator(seed: seed)
        root = try TestSupport.makeTemporaryDirectory("model")
        scratch = try TestSupport.makeTemporaryDirectory("debs")
        receiver = try WebhookReceiver()
        var options = Repository.InitOptions()
        options.architectures = ["amd64"]
        if let postgres {
            try postgres.createDatabase("model0")
            options.store = postgres.url("model0")
        }
        repository = try Repository.initialize(root: root.path, options: options)
        let configuration = try String(contentsOfFile: repository.configurationPath, encoding: .utf8)
        try configuration.replacingOccurrences(of: "Components: main\n", with: "Components: main\nRetain-History: \(Model.retainHistory)\n")
            .replacingOccurrences(of: "Distribution: production\n", with: "Distribution: production\nApprovals: 1\n")
            .appending("\nWebhook: \(receiver.url)\n")
            .write(toFile: repository.configurationPath, atomically: true, encoding: .utf8)
        repository = try Repository(root: root.path)
        if postgres != nil { try repository.recordConfiguration() }
    }

    func remove() {
        _ = try? TestSupport.run("gpgconf", ["--homedir", root.path + "/.depot/gnupg", "--kill", "gpg-agent"])
        try? FileManager.default.removeItem(at: root)
        try? FileManager.default.removeItem(at: scratch)
    }

    func context(_ user: String) throws -> OperationContext {
        try OperationContext(user: user, command: "model step \(step)")
    }

    /// Where a failure says how to replay it.
    var place: String { "seed \(seed), step \(step)" }

    func steps(_ count: Int) throws {
        let server = try StaticHTTPServer(serving: repository.publicDirectory)
        defer { server.stop() }
        let apt = try AptClient(
            sources: Model.distributions.map { "deb [signed-by=\(root.path)/public/archive-key.asc] \(server.url) \($0) main" })
        defer { apt.remove() }
        for number in 1...count {
            step = number
            try takeStep()
            try check(verifying: number % PromiseModelTests.verifyEvery == 0)
            if number % 50 == 0 || number == count { try checkApt(apt) }
            // Not a random step, so that a seed replays the same operations it always did.
            if number % 25 == 0 || number == count { try deliverAndCheckWebhooks() }
            if number % 1000 == 0 { print("model run, seed \(seed): \(number) steps checked") }
        }
        print("model run, seed \(seed): \(count) steps; taken/refused: "
            + outcomes.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value.taken)/\($0.value.refused)" }.joined(separator: ", "))
        // A run that never took or never refused an operation proved little about it.
        if count >= 100 {
            for operation in ["push", "promote", "approve", "remove", "rollback", "phase"] {
                let outcome = outcomes[operation, default: (0, 0)]
                #expect(outcome.taken > 0 && outcome.refused > 0, "\(place): \(operation) taken \(outcome.taken), refused \(outcome.refused)")
            }
        }
    }

    /// How many times each operation was taken and refused, by its first word.
    var outcomes: [String: (taken: Int, refused: Int)] = [:]

    /// Runs `body` on the repository and compares its outcome with the model's.
    func expect(_ what: String, _ predicted: Result<Void, ModelRefusal>, _ body: () throws -> Void) {
        let operation = String(what.prefix { $0 != " " })
        if case .success = predicted { outcomes[operation, default: (0, 0)].taken += 1 } else {
            outcomes[operation, default: (0, 0)].refused += 1
        }
        do {
            try body()
            if case .failure(let refusal) = predicted {
                Issue.record("\(place): \(what) succeeded; the model refuses it (\(refusal))")
            }
        } catch {
            if case .success = predicted {
                Issue.record("\(place): \(what) was refused: \(error); the model takes it")
            } else if case .failure(let refusal) = predicted, !Self.matches(error, refusal) {
                Issue.record("\(place): \(what) was refused with \(error); the model says \(refusal)")
            }
        }
    }

    static func matches(_ error: any Error, _ refusal: ModelRefusal) -> Bool {
        let text = "\(error)"
        switch refusal {
        case .conflict: return text.contains("conflict")
        case .downgrade: return text.contains("pass --allow-downgrade")
        case .notListed: return text.contains("does not list")
        case .gates: return text.contains("refused by its gates")
        case .fourEyes: return text.contains("(four eyes)")
        case .alreadyApproved: return text.contains("has already approved")
        case .nothingToRollBack: return text.contains("no recorded change")
        case .collected: return text.contains("gc deleted it")
        }
    }

    func pick<T>(_ values: [T]) -> T { values[Int.random(in: 0..<values.count, using: &random)] }

    func takeStep() throws {
        let roll = Int.random(in: 0..<100, using: &random)
        switch roll {
        case 0..<28: try push()
        case 28..<48: promote()
        case 48..<56: approve()
        case 56..<64: removeAPackage()
        case 64..<78: rollback()
        case 78..<84: phase()
        case 84..<94: try collectGarbage()
        case 94..<97: try revokeAToken()
        default: try copyStore()
        }
    }

    // MARK: - Operations

    func push() throws {
        let user = pick(users)
        let key = ModelKey(name: pick(names), version: Int.random(in: 1...6, using: &random))
        // Mostly the bytes pushed before under this name and version (a CI retry); sometimes other bytes.
        let variant = Int.random(in: 0..<10, using: &random) == 0 ? Int.random(in: 1...3, using: &random) : 0
        let distribution = pick(["development", "development", "staging", "production"])
        let overrideGates = distribution == "production" && Bool.random(using: &random)
        let path = try build(key, variant: variant)

        var predicted: Result<Void, ModelRefusal> = .success(())
        var next = model
        if distribution == "production" && !overrideGates {
            predicted = .failure(.gates)
        } else if let identity = next.stored[key], next.files[identity]!.variant != variant {
            predicted = .failure(.conflict)
        } else {
            let identity: Int
            if let existing = next.stored[key] {
                identity = existing
            } else {
                identity = next.nextIdentity
                next.nextIdentity += 1
                next.files[identity] = Model.File(identity: identity, key: key, variant: variant)
                next.stored[key] = identity
            }
            switch next.listing(next.files[identity]!, in: distribution) {
            case .failure(let refusal): predicted = .failure(refusal)
            case .success(let changes):
                if !changes.isEmpty, next.pushers[identity] == nil { next.pushers[identity] = user }
                next.record(distribution, changes)
            }
        }
        expect("push \(key) (bytes \(variant)) into \(distribution) by \(user)", predicted) {
            _ = try repository.push(
                [path], as: PushRequest(distribution: distribution, overrideGates: overrideGates),
                context: try context(user))
        }
        if case .success = predicted { model = next }
    }

    func promote() {
        let user = pick(users)
        let name = pick(names)
        let (from, to) = pick([("development", "staging"), ("staging", "production"), ("development", "production")])
        let overrideGates = to == "production" && Int.random(in: 0..<4, using: &random) == 0
        var predicted: Result<Void, ModelRefusal> = .success(())
        var next = model
        if let file = model.listed(from, name: name).max(by: { $0.key.version < $1.key.version }) {
            switch next.listing(file, in: to) {
            case .failure(let refusal): predicted = .failure(refusal)
            case .success(let changes):
                let lists = changes.contains { $0.identity == file.identity && $0.after != nil }
                if to == "production" && lists && !overrideGates {
                    let approvers = model.approvals[file.identity, default: []]
                        .subtracting([model.pushers[file.identity] ?? "", user])
                    if from != "staging" || approvers.isEmpty { predicted = .failure(.gates) }
                }
                next.record(to, changes)
            }
        } else {
            predicted = .failure(.notListed)
        }
        expect("promote \(name) from \(from) to \(to) by \(user)", predicted) {
            _ = try repository.promote(
                PromotionRequest(packages: [name], from: from, to: to, overrideGates: overrideGates),
                context: try context(user))
        }
        if case .success = predicted { model = next }
    }

    func approve() {
        let user = pick(users)
        let name = pick(names)
        let candidates = model.listed("staging", name: name)
        let version = candidates.isEmpty ? Int.random(in: 1...6, using: &random) : pick(candidates).key.version
        let key = ModelKey(name: name, version: version)
        var predicted: Result<Void, ModelRefusal> = .success(())
        if let file = candidates.first(where: { $0.key == key }) {
            if model.pushers[file.identity] == user {
                predicted = .failure(.fourEyes)
            } else if model.approvals[file.identity, default: []].contains(user) {
                predicted = .failure(.alreadyApproved)
            }
        } else {
            predicted = .failure(.notListed)
        }
        expect("approve \(key) for production by \(user)", predicted) {
            _ = try repository.approve(
                ApprovalRequest(distribution: "production", package: name, version: key.versionText),
                context: try context(user))
        }
        if case .success = predicted, let file = candidates.first(where: { $0.key == key }) {
            model.approvals[file.identity, default: []].insert(user)
        }
    }

    func removeAPackage() {
        let distribution = pick(Model.distributions)
        let name = pick(names)
        let listed = model.listed(distribution, name: name)
        let predicted: Result<Void, ModelRefusal> = listed.isEmpty ? .failure(.notListed) : .success(())
        expect("remove \(name) from \(distribution)", predicted) {
            _ = try repository.remove(
                RemovalRequest(distribution: distribution, packages: [name]), context: try context(pick(users)))
        }
        if case .success = predicted { model.record(distribution, listed.map { ($0.identity, nil) }) }
    }

    func rollback() {
        let distribution = pick(Model.distributions)
        let entries = model.history[distribution] ?? []
        var undone: [Model.Entry] = []
        var what: String
        var byPackage: String?
        if Bool.random(using: &random) || entries.isEmpty {
            let name = pick(names)
            byPackage = name
            what = "rollback \(name) in \(distribution)"
            if let latest = entries.last(where: { $0.after.keys.contains { fileName($0) == name } }) {
                var entry = latest
                entry.before = entry.before.filter { fileName($0.key) == name }
                undone = [entry]
            }
        } else {
            let back = Int.random(in: 0..<min(entries.count, 9), using: &random)
            undone = Array(entries.suffix(back).reversed())
            what = "rollback \(distribution) \(back) entries back"
        }
        var predicted: Result<Void, ModelRefusal> = .success(())
        var restored = model.listings[distribution] ?? [:]
        for entry in undone {
            for (identity, before) in entry.before {
                restored[identity] = before ?? nil
            }
        }
        if byPackage != nil && undone.isEmpty { predicted = .failure(.nothingToRollBack) }
        let changes = Set(restored.keys).union((model.listings[distribution] ?? [:]).keys).sorted().compactMap {
            identity -> (identity: Int, after: Model.Listed?)? in
            restored[identity] == model.listings[distribution]?[identity] ? nil : (identity, restored[identity])
        }
        if changes.contains(where: { $0.after != nil && model.files[$0.identity] == nil }) { predicted = .failure(.collected) }
        let target = try? historyID(distribution, entriesBack: undone.count)
        expect(what, predicted) {
            if let byPackage {
                _ = try repository.rollback(
                    RollbackRequest(distribution: distribution, packages: [byPackage]), context: try context(pick(users)))
            } else {
                _ = try repository.rollback(
                    RollbackRequest(distribution: distribution, to: target ?? 0), context: try context(pick(users)))
            }
        }
        if case .success = predicted { model.record(distribution, changes) }
    }

    /// The id of the history entry `back` entries before the latest of `distribution` (0:
    /// before them all), read from the repository.
    func historyID(_ distribution: String, entriesBack back: Int) throws -> Int64 {
        let entries = try repository.history(distribution: distribution)
        return back < entries.count ? entries[back].id : 0
    }

    func fileName(_ identity: Int) -> String? { model.files[identity]?.key.name ?? collectedNames[identity] }
    /// Names of files gc collected, by identity: a rollback by package still finds its entries.
    var collectedNames: [Int: String] = [:]

    func phase() {
        let distribution = pick(Model.distributions)
        let name = pick(names)
        let percentage = pick([0, 10, 50, 100])
        var predicted: Result<Void, ModelRefusal> = .success(())
        var change: [(identity: Int, after: Model.Listed?)] = []
        if let newest = model.listed(distribution, name: name).max(by: { $0.key.version < $1.key.version }) {
            change = [(newest.identity, Model.Listed(phase: percentage == 100 ? nil : percentage))]
        } else {
            predicted = .failure(.notListed)
        }
        expect("phase \(name) in \(distribution) to \(percentage)%", predicted) {
            _ = try repository.phase(
                PhaseRequest(distribution: distribution, package: name, percentage: percentage),
                context: try context(pick(users)))
        }
        if case .success = predicted { model.record(distribution, change) }
    }

    func collectGarbage() throws {
        let kept = model.referenced()
        for identity in Array(model.files.keys) where !kept.contains(identity) {
            let file = model.files.removeValue(forKey: identity)!
            collectedNames[identity] = file.key.name
            model.stored[file.key] = nil
            model.approvals[identity] = nil
            model.pushers[identity] = nil
        }
        // What gc deleted and kept is checked by the steps after it: a rollback that needs a
        // collected file must be refused, one that needs a kept file must work.
        _ = try repository.collectGarbage(context: try context("gc"))
    }

    func revokeAToken() throws {
        let name = "token\(step)"
        _ = try repository.createToken(name: name, scopes: [Scope(.promote, "production")], context: try context("admin"))
        let ramps = try repository.revokeToken(name: name, context: try context("admin"))
        #expect(ramps.isEmpty)
    }

    /// Copies the store and carries on with the copy: SQLite into a new file; PostgreSQL
    /// through a SQLite file into a new database, so that the counters cross both ways.
    func copyStore() throws {
        let file = scratch.appendingPathComponent("copy\(step).sqlite").path
        _ = try repository.copyStore(to: file)
        let sqlitePath = root.path + "/.depot/depot.sqlite"
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: sqlitePath + suffix) }
        try FileManager.default.moveItem(atPath: file, toPath: sqlitePath)
        if let postgres {
            databases += 1
            let database = postgres.url("model\(databases)")
            try postgres.createDatabase("model\(databases)")
            let configuration = try String(contentsOfFile: repository.configurationPath, encoding: .utf8)
            let onSQLite = configuration.split(separator: "\n", omittingEmptySubsequences: false)
                .filter { !$0.hasPrefix("Store: ") }.joined(separator: "\n")
            try onSQLite.write(toFile: repository.configurationPath, atomically: true, encoding: .utf8)
            _ = try Repository(root: root.path).copyStore(to: database)
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: sqlitePath + suffix) }
            try onSQLite.replacingOccurrences(of: "Components: main\n", with: "Components: main\nStore: \(database)\n")
                .write(toFile: repository.configurationPath, atomically: true, encoding: .utf8)
        }
        repository = try Repository(root: root.path)
    }

    // MARK: - Checks

    func build(_ key: ModelKey, variant: Int) throws -> String {
        let control = """
            Package: \(key.name)
            Version: \(key.versionText)
            Architecture: amd64
            Maintainer: Depot model <model@depot.example>
            Description: \(key.name) for the model

            """
        return try DebAssembler.write(
            control: Array(control.utf8), data: Array("\(key) bytes \(variant)\n".utf8), in: scratch,
            name: "\(key.name)_\(key.versionText)_\(variant).deb")
    }

    /// Each distribution lists what the model says, with the bytes pushed, and verify passes.
    func check(verifying: Bool) throws {
        let listings = try repository.list()
        for distribution in Model.distributions {
            let actual = Set(
                listings.filter { $0.distribution == distribution }.map {
                    "\($0.file.name) \($0.file.version) \($0.phase.map(String.init) ?? "-")"
                })
            let expected = Set(
                (model.listings[distribution] ?? [:]).map { identity, listed in
                    let key = model.files[identity]!.key
                    return "\(key.name) \(key.versionText) \(listed.phase.map(String.init) ?? "-")"
                })
            #expect(actual == expected, "\(place): \(distribution) lists \(actual.sorted()); the model \(expected.sorted())")
        }
        for listing in listings {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: repository.publicDirectory + "/" + listing.file.poolPath))
            let key = ModelKey(name: listing.file.name, version: Int(listing.file.version.prefix { $0 != "." }) ?? 0)
            let variant = model.stored[key].flatMap { model.files[$0]?.variant }
            let pushed = try Data(contentsOf: URL(fileURLWithPath: try build(key, variant: variant ?? -1)))
            #expect(bytes == pushed, "\(place): \(listing.file.poolPath) holds other bytes than were pushed")
        }
        guard verifying else { return }
        let report = try repository.verify()
        #expect(report.passed, "\(place): verify: \(report.problems)")
    }

    /// Delivers the outbox to the receiver, which then has had one delivery per change taken
    /// (history entries and approvals), in order, each once.
    func deliverAndCheckWebhooks() throws {
        let deliverer = WebhookDeliverer(repository: repository)
        let done = DispatchSemaphore(value: 0)
        let failed = Mutex(0)
        Task {
            let round = await deliverer.deliverDue()
            await deliverer.shutdown()
            failed.withLock { $0 = round.failedAttempts }
            done.signal()
        }
        done.wait()
        #expect(failed.withLock { $0 } == 0, "\(place): a delivery to a receiver that answers 200 failed")
        let deliveries = try repository.webhookDeliveries(limit: 100_000).reversed()
        #expect(deliveries.allSatisfy { $0.state == .delivered }, "\(place): undelivered: \(deliveries.filter { $0.state != .delivered })")
        let history = try repository.history().reversed().map(\.id)
        #expect(deliveries.compactMap(\.historyID) == history, "\(place): the outbox and history disagree")
        #expect(
            deliveries.filter { $0.historyID == nil }.count == outcomes["approve", default: (0, 0)].taken,
            "\(place): one delivery per approval")
        let received = receiver.requests().compactMap { $0.headers["x-depot-delivery"] }
        #expect(received == deliveries.map(\.delivery), "\(place): the receiver got other deliveries, or another order")
    }

    /// apt-get sees, in each distribution, exactly the versions the model lists.
    func checkApt(_ apt: AptClient) throws {
        let update = try apt.run(["update"])
        #expect(update.status == 0 && !update.standardError.contains("W:"), "\(place): \(update.standardError)")
        for name in names {
            let madison = try apt.run(["madison", name], program: "apt-cache").text
            let seen = Set(
                madison.split(separator: "\n").compactMap { line -> String? in
                    let fields = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
                    guard fields.count == 3, let distribution = fields[2].split(separator: " ").dropFirst().first else { return nil }
                    return "\(distribution.split(separator: "/").first ?? "") \(fields[1])"
                })
            let expected = Set(
                Model.distributions.flatMap { distribution in
                    model.listed(distribution, name: name).map { "\(distribution) \($0.key.versionText)" }
                })
            #expect(seen == expected, "\(place): apt sees \(name) as \(seen.sorted()); the model \(expected.sorted())")
        }
    }
}
