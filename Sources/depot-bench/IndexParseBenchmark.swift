import ArgumentParser
import DebianFormat
import Foundation

/// Parses (and writes back) Debian's own main index, the realistic large deb822 file.
struct IndexParseBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "index",
        abstract: "Parse Debian's ~63,000-stanza Packages index from /var/lib/apt/lists.")

    @Option(help: "A Packages file to parse instead of apt's largest list.")
    var file: String?

    @Option(help: "Runs; the fastest counts.")
    var repetitions = 3

    func run() throws {
        let bytes = try [UInt8](Self.loadIndex(file: file))
        var document = Deb822Document()
        let parse = try Measurement.best(of: repetitions) { document = try Deb822Document(parsing: bytes) }
        var rendered = ""
        let render = Measurement.best(of: repetitions) { rendered = document.rendered() }
        guard rendered.utf8.count == bytes.count else { throw BenchmarkError("the index did not round-trip") }
        print("index: \(megabytes(bytes.count)), \(document.paragraphs.count) stanzas")
        print("parse:  \(seconds(parse.wallSeconds))  \(rate(bytes.count, parse.wallSeconds))")
        print("render: \(seconds(render.wallSeconds))  \(rate(bytes.count, render.wallSeconds))")
    }

    static func loadIndex(file: String?) throws -> Data {
        if let file { return try Data(contentsOf: URL(fileURLWithPath: file)) }
        let lists = "/var/lib/apt/lists"
        let candidates = try FileManager.default.contentsOfDirectory(atPath: lists)
            .filter { $0.contains("_binary-") && $0.contains("_Packages") }
            .map { "\(lists)/\($0)" }
        func size(_ path: String) -> Int {
            ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int) ?? 0
        }
        guard let largest = candidates.max(by: { size($0) < size($1) }) else {
            throw BenchmarkError("no index in \(lists): run apt-get update, or pass --file")
        }
        return try shell("/usr/lib/apt/apt-helper cat-file '\(largest)'")
    }
}
