import ArgumentParser
import Foundation

/// Depot against reprepro and aptly on the same corpus of small packages, signed with the same
/// key: (a) import N packages into an empty distribution and publish; (b) push one more into
/// that distribution and republish, the cost CI pays on every build.
struct RepositoryBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "repository",
        abstract: "Import N packages, then push one more: Depot, reprepro and aptly.",
        discussion: """
            Needs reprepro, aptly and GNU time: apt-get install reprepro aptly time
            The corpus (made with dpkg-deb, reproducible) is kept in --work and reused.
            """)

    @Option(help: "How many packages the corpus holds.")
    var count = 1_000

    @Option(help: "Working folder: corpus, signing key and repositories.")
    var work = "/tmp/depot-bench"

    @Option(help: "Contenders to run, comma-separated.")
    var contenders = "depot,reprepro,aptly"

    func run() throws {
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        let corpus = try Corpus.ensure(count: count, in: work)
        let key = try SigningKey.ensure(in: work)
        let depot = try depotBesideBench()

        var rows: [(String, Steps)] = []
        for contender in contenders.split(separator: ",").map(String.init) {
            let directory = "\(work)/\(contender)-\(count)"
            try? FileManager.default.removeItem(atPath: directory)
            print("\(contender): importing \(count) packages, promoting them, pushing and promoting one more...")
            rows.append((contender, try run(contender, in: directory, corpus: corpus, key: key, depot: depot)))
            // Depot's repository has a keyring of its own, whose agent would keep the work
            // folder's file system busy.
            _ = try? shell("gpgconf --homedir '\(directory)/.depot/gnupg' --kill gpg-agent")
        }
        _ = try? shell("gpgconf --homedir '\(key.home)' --kill gpg-agent")

        print("")
        print("N = \(count); wall, CPU, peak RSS")
        for (title, keyPath) in [
            ("(a) import N into an empty distribution and publish", \Steps.imported),
            ("(b) push one more into the distribution holding N and republish", \Steps.pushed),
            ("(c) promote all N into the next distribution", \Steps.promotedAll),
            ("(d) promote that one package into the distribution holding N", \Steps.promotedOne),
            ("(e) phase that one package in the distribution holding N (only Depot phases; compare with (d))",
             \Steps.phasedOne),
        ] as [(String, KeyPath<Steps, Timed?>)] {
            print(title)
            for (name, steps) in rows {
                guard let timed = steps[keyPath: keyPath] else { continue }
                print("  " + name.padding(toLength: 10, withPad: " ", startingAt: 0) + timed.columns)
            }
            if let depotTimed = rows.first(where: { $0.0 == "depot" })?.1[keyPath: keyPath] {
                for (name, steps) in rows where name != "depot" {
                    guard let timed = steps[keyPath: keyPath] else { continue }
                    print(String(format: "  depot is %.1fx faster than %@", timed.wall / depotTimed.wall, name))
                }
            }
        }
    }

    struct Steps {
        var imported: Timed?
        var promotedAll: Timed?
        var pushed: Timed?
        var promotedOne: Timed?
        /// Depot only: a phased rollout's step, which should cost what promoting one does.
        var phasedOne: Timed? = nil
    }

    /// The steps, each contender in its own idiom: import N into `bench`, promote them all
    /// into `prod`, push one more into `bench`, promote that one into `prod`; and for Depot,
    /// phase it there.
    private func run(_ contender: String, in directory: String, corpus: Corpus, key: SigningKey, depot: String) throws
        -> Steps
    {
        switch contender {
        case "depot":
            let depot = "'\(depot)' --root '\(directory)'"
            try shell(
                "\(depot) init --sign-with \(key.fingerprint) --gnupg-home '\(key.home)' --architectures amd64 --distributions bench,prod >/dev/null"
            )
            return Steps(
                // A list on stdin: argument parsers (ArgumentParser's too) are slow on 10,000 arguments.
                imported: try Timed.run(
                    "ls -d '\(corpus.directory)'/*.deb | \(depot) push bench --files-from - >/dev/null"),
                promotedAll: try Timed.run("\(depot) promote --all --from bench >/dev/null"),
                pushed: try Timed.run("\(depot) push bench '\(corpus.extra)' >/dev/null"),
                promotedOne: try Timed.run("\(depot) promote bench-extra --from bench >/dev/null"),
                phasedOne: try Timed.run("\(depot) phase prod bench-extra 25 >/dev/null"))
        case "reprepro":
            try FileManager.default.createDirectory(atPath: directory + "/conf", withIntermediateDirectories: true)
            let distributions = ["bench", "prod"].map { name in
                """
                Codename: \(name)
                Suite: \(name)
                Architectures: amd64
                Components: main
                DebIndices: Packages Release . .gz .xz
                SignWith: \(key.fingerprint)

                """
            }.joined(separator: "\n")
            try distributions.write(toFile: directory + "/conf/distributions", atomically: true, encoding: .utf8)
            let reprepro = "GNUPGHOME='\(key.home)' reprepro -s -b '\(directory)'"
            return Steps(
                imported: try Timed.run("\(reprepro) includedeb bench \(corpus.directory)/*.deb"),
                promotedAll: try Timed.run("\(reprepro) copymatched prod bench '*'"),
                pushed: try Timed.run("\(reprepro) includedeb bench '\(corpus.extra)'"),
                promotedOne: try Timed.run("\(reprepro) copy prod bench bench-extra"))
        case "aptly":
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try #"{"rootDir": "\#(directory)", "architectures": ["amd64"]}"#.write(
                toFile: directory + "/aptly.conf", atomically: true, encoding: .utf8)
            let aptly = "GNUPGHOME='\(key.home)' aptly -config='\(directory)/aptly.conf'"
            let sign = "-batch -gpg-key=\(key.fingerprint)"
            try shell("\(aptly) repo create -distribution=bench -component=main bench >/dev/null")
            try shell("\(aptly) repo create -distribution=prod -component=main prod >/dev/null")
            return Steps(
                imported: try Timed.run(
                    "\(aptly) repo add bench '\(corpus.directory)' >/dev/null && \(aptly) publish repo \(sign) bench >/dev/null"
                ),
                promotedAll: try Timed.run(
                    "\(aptly) repo copy bench prod 'Name (~ .)' >/dev/null && \(aptly) publish repo \(sign) prod >/dev/null"
                ),
                pushed: try Timed.run(
                    "\(aptly) repo add bench '\(corpus.extra)' >/dev/null && \(aptly) publish update \(sign) bench >/dev/null"
                ),
                promotedOne: try Timed.run(
                    "\(aptly) repo copy bench prod bench-extra >/dev/null && \(aptly) publish update \(sign) prod >/dev/null"
                ))
        default:
            throw BenchmarkError("unknown contender '\(contender)' (depot, reprepro, aptly)")
        }
    }
}

/// Wall and CPU seconds and peak memory of a shell command, as GNU time reports them.
struct Timed {
    var wall: Double
    var cpu: Double
    var peakKilobytes: Int

    static func run(_ command: String) throws -> Timed {
        let report = FileManager.default.temporaryDirectory.appendingPathComponent("depot-bench-time-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: report) }
        let quoted = command.replacingOccurrences(of: "'", with: "'\\''")
        try shell("/usr/bin/time -f '%e %U %S %M' -o '\(report)' sh -c '\(quoted)'")
        let fields = try String(contentsOfFile: report, encoding: .utf8)
            .split(separator: "\n").last!.split(separator: " ").map(String.init)
        return Timed(
            wall: Double(fields[0]) ?? 0, cpu: (Double(fields[1]) ?? 0) + (Double(fields[2]) ?? 0),
            peakKilobytes: Int(fields[3]) ?? 0)
    }

    var columns: String {
        String(format: "%7.2f s %7.2f s %8.1f MiB", wall, cpu, Double(peakKilobytes) / 1024)
    }
}

/// N small packages built by dpkg-deb, reproducibly (fixed names, contents and timestamps),
/// plus one more for the single push. Each depends on the first package and on libc6, so
/// that Depot's promotions check dependencies as they would in real use.
struct Corpus {
    var directory: String
    var extra: String

    static func ensure(count: Int, in work: String) throws -> Corpus {
        let directory = "\(work)/corpus-v2-\(count)"
        let extra = "\(work)/extra/bench-extra_1.0-1_amd64.deb"
        let existing = (try? FileManager.default.contentsOfDirectory(atPath: directory))?.count ?? 0
        if existing != count || !FileManager.default.fileExists(atPath: extra) {
            print("Building a corpus of \(count) packages with dpkg-deb in \(directory)...")
            try? FileManager.default.removeItem(atPath: directory)
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: "\(work)/extra", withIntermediateDirectories: true)
            try build((1...count).map { String(format: "bench-%05d", $0) }, into: directory)
            try build(["bench-extra"], into: "\(work)/extra")
        }
        return Corpus(directory: directory, extra: extra)
    }

    /// Builds packages of these names, version 1.0-1, into `directory`, two at a time.
    static func build(_ names: [String], into directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let list = directory + "/.names"
        try names.joined(separator: "\n").write(toFile: list, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: list) }
        let script = """
            set -e
            export SOURCE_DATE_EPOCH=1700000000
            make() {
                name=$1; out=$2; root=$(mktemp -d)
                mkdir -p "$root/DEBIAN" "$root/usr/share/doc/$name"
                printf 'Package: %s\\nVersion: 1.0-1\\nArchitecture: amd64\\nMaintainer: Bench <bench@depot.example>\\nInstalled-Size: 1\\nDepends: libc6 (>= 2.36), bench-00001 (>= 1.0-1)\\nSection: misc\\nPriority: optional\\nDescription: benchmark package %s\\n A package of the Depot benchmark corpus.\\n' "$name" "$name" > "$root/DEBIAN/control"
                echo "$name" > "$root/usr/share/doc/$name/README"
                dpkg-deb -Zgzip --root-owner-group --build "$root" "$out/${name}_1.0-1_amd64.deb" >/dev/null
                rm -rf "$root"
            }
            export -f make
            xargs -P 2 -I{} bash -c 'make {} \(directory)' < \(list)
            """
        try shell("bash -c '\(script.replacingOccurrences(of: "'", with: "'\\''"))'")
    }
}

/// One ed25519 key without passphrase that every contender signs with.
struct SigningKey {
    var home: String
    var fingerprint: String

    static func ensure(in work: String) throws -> SigningKey {
        let home = "\(work)/gnupg"
        if !FileManager.default.fileExists(atPath: home + "/fingerprint") {
            try? FileManager.default.removeItem(atPath: home)
            try FileManager.default.createDirectory(
                atPath: home, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            try shell(
                "GNUPGHOME='\(home)' gpg --batch --passphrase '' --quick-gen-key 'Bench <bench@depot.example>' ed25519 sign never 2>/dev/null"
            )
            let listing = String(
                decoding: try shell("GNUPGHOME='\(home)' gpg --batch --with-colons --list-secret-keys"), as: UTF8.self)
            guard let line = listing.split(separator: "\n").first(where: { $0.hasPrefix("fpr:") }) else {
                throw BenchmarkError("gpg made no key in \(home)")
            }
            try String(line.split(separator: ":", omittingEmptySubsequences: false)[9]).write(
                toFile: home + "/fingerprint", atomically: true, encoding: .utf8)
        }
        let fingerprint = try String(contentsOfFile: home + "/fingerprint", encoding: .utf8)
        return SigningKey(home: home, fingerprint: fingerprint)
    }
}
