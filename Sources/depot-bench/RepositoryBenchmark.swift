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
        let depot = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(
            "depot"
        ).path
        guard FileManager.default.isExecutableFile(atPath: depot) else {
            throw BenchmarkError("no depot binary beside depot-bench: swift build -c release first")
        }

        var rows: [(String, Timed, Timed)] = []
        for contender in contenders.split(separator: ",").map(String.init) {
            let directory = "\(work)/\(contender)-\(count)"
            try? FileManager.default.removeItem(atPath: directory)
            print("\(contender): importing \(count) packages...")
            let (imported, pushed): (Timed, Timed)
            switch contender {
            case "depot":
                try shell(
                    "'\(depot)' --root '\(directory)' init --sign-with \(key.fingerprint) --gnupg-home '\(key.home)' --architectures amd64 --distributions bench >/dev/null"
                )
                imported = try Timed.run(
                    // A list on stdin: argument parsers (ArgumentParser's too) are slow on 10,000 arguments.
                    "ls -d '\(corpus.directory)'/*.deb | '\(depot)' --root '\(directory)' push bench --files-from - >/dev/null"
                )
                pushed = try Timed.run("'\(depot)' --root '\(directory)' push bench '\(corpus.extra)' >/dev/null")
            case "reprepro":
                try FileManager.default.createDirectory(atPath: directory + "/conf", withIntermediateDirectories: true)
                try """
                Codename: bench
                Suite: bench
                Architectures: amd64
                Components: main
                DebIndices: Packages Release . .gz .xz
                SignWith: \(key.fingerprint)

                """.write(toFile: directory + "/conf/distributions", atomically: true, encoding: .utf8)
                let reprepro = "GNUPGHOME='\(key.home)' reprepro -s -b '\(directory)'"
                imported = try Timed.run("\(reprepro) includedeb bench \(corpus.directory)/*.deb")
                pushed = try Timed.run("\(reprepro) includedeb bench '\(corpus.extra)'")
            case "aptly":
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
                try #"{"rootDir": "\#(directory)", "architectures": ["amd64"]}"#.write(
                    toFile: directory + "/aptly.conf", atomically: true, encoding: .utf8)
                let aptly = "GNUPGHOME='\(key.home)' aptly -config='\(directory)/aptly.conf'"
                try shell("\(aptly) repo create -distribution=bench -component=main bench >/dev/null")
                imported = try Timed.run(
                    "\(aptly) repo add bench '\(corpus.directory)' >/dev/null && \(aptly) publish repo -batch -gpg-key=\(key.fingerprint) bench >/dev/null"
                )
                pushed = try Timed.run(
                    "\(aptly) repo add bench '\(corpus.extra)' >/dev/null && \(aptly) publish update -batch -gpg-key=\(key.fingerprint) bench >/dev/null"
                )
            default:
                throw BenchmarkError("unknown contender '\(contender)' (depot, reprepro, aptly)")
            }
            rows.append((contender, imported, pushed))
        }
        try? shell("gpgconf --homedir '\(key.home)' --kill gpg-agent")

        print("")
        print("N = \(count)                (a) import N + publish signed         (b) push one more + republish")
        print("contender      wall      CPU       peak RSS     wall      CPU       peak RSS")
        for (name, a, b) in rows {
            print(name.padding(toLength: 12, withPad: " ", startingAt: 0) + "  " + a.columns + "   " + b.columns)
        }
        if let depotRow = rows.first(where: { $0.0 == "depot" }) {
            for (name, a, b) in rows where name != "depot" {
                print(
                    String(
                        format: "depot vs %@: (a) %.1fx faster, (b) %.1fx faster", name,
                        a.wall / depotRow.1.wall, b.wall / depotRow.2.wall))
            }
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
/// plus one more for the single push.
struct Corpus {
    var directory: String
    var extra: String

    static func ensure(count: Int, in work: String) throws -> Corpus {
        let directory = "\(work)/corpus-\(count)"
        let extra = "\(work)/extra/bench-extra_1.0-1_amd64.deb"
        let existing = (try? FileManager.default.contentsOfDirectory(atPath: directory))?.count ?? 0
        if existing != count || !FileManager.default.fileExists(atPath: extra) {
            print("Building a corpus of \(count) packages with dpkg-deb in \(directory)...")
            try? FileManager.default.removeItem(atPath: directory)
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: "\(work)/extra", withIntermediateDirectories: true)
            let script = """
                set -e
                export SOURCE_DATE_EPOCH=1700000000
                make() {
                    name=$1; out=$2; root=$(mktemp -d)
                    mkdir -p "$root/DEBIAN" "$root/usr/share/doc/$name"
                    printf 'Package: %s\\nVersion: 1.0-1\\nArchitecture: amd64\\nMaintainer: Bench <bench@depot.example>\\nInstalled-Size: 1\\nSection: misc\\nPriority: optional\\nDescription: benchmark package %s\\n A package of the Depot benchmark corpus.\\n' "$name" "$name" > "$root/DEBIAN/control"
                    echo "$name" > "$root/usr/share/doc/$name/README"
                    dpkg-deb -Zgzip --root-owner-group --build "$root" "$out/${name}_1.0-1_amd64.deb" >/dev/null
                    rm -rf "$root"
                }
                export -f make
                seq -f 'bench-%05g' 1 \(count) | xargs -P 2 -I{} bash -c 'make {} \(directory)'
                make bench-extra \(work)/extra
                """
            try shell("bash -c '\(script.replacingOccurrences(of: "'", with: "'\\''"))'")
        }
        return Corpus(directory: directory, extra: extra)
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
