import AptRepository
import ArgumentParser
import DebianFormat
import Foundation

/// Publishes a distribution made of Debian's real index (its stanzas as the store would hand
/// them over; no pool files are needed) and compares with the floor of simply compressing that
/// `Packages` file with gzip and xz.
struct IndexPublishBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "publish-index",
        abstract: "Publish Debian's ~63,000-stanza index: cold, and again after one change.")

    @Option(help: "Working folder (signing key and output).")
    var work = "/tmp/depot-bench"

    func run() throws {
        let key = try SigningKey.ensure(in: work)
        let text = try IndexParseBenchmark.loadIndex(file: nil)
        let document = try Deb822Document(parsing: [UInt8](text))
        var entries = document.paragraphs.map { paragraph in
            PackagesIndex.Entry(package: paragraph["Package"] ?? "", stanza: paragraph.rendered())
        }
        entries.sort { $0.package < $1.package }
        let directory = "\(work)/publish-index"
        try? FileManager.default.removeItem(atPath: directory)
        let signer = Signer(homeDirectory: key.home, fingerprint: key.fingerprint)
        let publisher = Publisher(
            publicDirectory: directory + "/public", signer: signer, chunkCacheDirectory: directory + "/cache")
        let release = ReleaseInfo(
            origin: "Bench", label: "Bench", distribution: "bookworm", architectures: ["amd64"], components: ["main"])
        func publish() throws {
            try publisher.publish(
                release, indices: [PackagesIndex(component: "main", architecture: "amd64", entries: entries)],
                date: Int(Date().timeIntervalSince1970))
        }
        print("Publishing \(entries.count) stanzas (\(megabytes(text.count)))...")
        let cold = try Measurement.best(of: 1) { try publish() }
        let middle = entries.count / 2
        entries[middle].stanza = entries[middle].stanza.replacingOccurrences(of: "\nVersion: ", with: "\nVersion: 9:")
        let warm = try Measurement.best(of: 1) { try publish() }

        let plain = directory + "/Packages"
        try text.write(to: URL(fileURLWithPath: plain))
        let gzip = try Timed.run("gzip -9 -c '\(plain)' > /dev/null")
        let xz = try Timed.run("xz -6 -c '\(plain)' > /dev/null")
        let xzThreads = try Timed.run("xz -6 -T2 --block-size=4MiB -c '\(plain)' > /dev/null")
        _ = try? shell("gpgconf --homedir '\(key.home)' --kill gpg-agent")

        print("")
        print("work                                              wall       CPU")
        print(
            "Depot publish, empty chunk cache (cold)        \(seconds(cold.wallSeconds))   \(seconds(cold.cpuSeconds))")
        print(
            "Depot publish after one package changed       \(seconds(warm.wallSeconds))   \(seconds(warm.cpuSeconds))")
        print("floor: gzip -9 of Packages                     \(seconds(gzip.wall))   \(seconds(gzip.cpu))")
        print("floor: xz -6 of Packages                       \(seconds(xz.wall))   \(seconds(xz.cpu))")
        print("floor: xz -6 -T2 of Packages                   \(seconds(xzThreads.wall))   \(seconds(xzThreads.cpu))")
        print("peak resident memory of this process: \(megabytes(Measurement.peakResident()))")
    }
}
