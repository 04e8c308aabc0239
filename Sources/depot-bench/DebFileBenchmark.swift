import ArgumentParser
import DebianFormat
import Foundation

/// `DebFile.read` (size and four digests in one pass, control parsed) against coreutils'
/// `sha256sum` alone, on the same large package, warm in the page cache.
struct DebFileBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "debfile",
        abstract: "Read a large .deb with DebFile.read and compare with sha256sum.")

    @Option(help: "Size of the random payload in MiB.")
    var sizeMb = 200

    @Option(help: "Runs of each contender; the fastest counts.")
    var repetitions = 3

    func run() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("depot-bench-deb")
        try? FileManager.default.removeItem(at: directory)
        defer { try? FileManager.default.removeItem(at: directory) }
        let root = directory.appendingPathComponent("root")
        try FileManager.default.createDirectory(
            at: root.appendingPathComponent("DEBIAN"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(
            at: root.appendingPathComponent("usr/share/big"), withIntermediateDirectories: true)
        try """
        Package: big
        Version: 1.0-1
        Architecture: amd64
        Maintainer: Bench <bench@depot.example>
        Description: random payload

        """.write(to: root.appendingPathComponent("DEBIAN/control"), atomically: true, encoding: .utf8)
        let deb = directory.appendingPathComponent("big_1.0-1_amd64.deb").path
        print("Making a \(sizeMb) MiB package with random content...")
        try shell("head -c \(sizeMb)M /dev/urandom > '\(root.path)/usr/share/big/payload'")
        try shell("dpkg-deb -Znone --root-owner-group --build '\(root.path)' '\(deb)' >/dev/null")
        try? FileManager.default.removeItem(at: root)
        let size = try FileManager.default.attributesOfItem(atPath: deb)[.size] as! Int
        try shell("cat '\(deb)' > /dev/null")  // warm the page cache for both contenders

        var checksums: Checksums?
        let depot = try Measurement.best(of: repetitions) { checksums = try DebFile.read(path: deb).checksums }
        let peak = Measurement.peakResident()
        var reference = ""
        let coreutils = try Measurement.best(of: repetitions) {
            reference = String(decoding: try shell("sha256sum '\(deb)'"), as: UTF8.self)
        }
        guard reference.hasPrefix(checksums?.sha256 ?? "-") else {
            throw BenchmarkError("sha256sum disagrees with DebFile.read")
        }

        print("")
        print("file: \(megabytes(size))")
        print("contender                              wall        throughput   CPU")
        print(
            "DebFile.read (MD5+SHA1+SHA256+SHA512)  \(seconds(depot.wallSeconds))   \(rate(size, depot.wallSeconds))     \(seconds(depot.cpuSeconds))"
        )
        print(
            "sha256sum (SHA256 only)                \(seconds(coreutils.wallSeconds))   \(rate(size, coreutils.wallSeconds))"
        )
        print(
            String(
                format: "ratio: DebFile.read runs at %.2fx the throughput of sha256sum",
                coreutils.wallSeconds / depot.wallSeconds))
        print("peak resident memory of this process after reading: \(megabytes(peak))")
    }
}
