import ArgumentParser
import DepotCore

struct CollectGarbage: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gc",
        abstract: "Delete pool files that no distribution lists and no retained history entry can restore.",
        discussion: """
            First, a distribution a template made (Distribution: pr-* in depot.conf) that has not changed for its template's Expires-After expires: it lists nothing any more (a history entry, 'expire', keeps what it listed), its indices leave the served tree, and its files then go like any unlisted file. A file stays while a distribution lists it or one of the latest Retain-History history entries of any distribution (depot.conf(5)) listed or unlisted it. gc also deletes pool files a killed push left unrecorded, incoming files of pushes that are no longer running, and cached compressed index chunks that no published index is made of. With Storage: s3://..., it deletes too the by-hash/ indices no Release names any more, and each file of the bucket only once nothing has referenced it for GC-Grace (24 hours by default): clients and caches may still fetch it.
            Example:
              depot gc --dry-run
            """)

    @OptionGroup var repository: RepositoryOptions

    @Flag(help: "Print what would be deleted and delete nothing.")
    var dryRun = false

    @Flag(help: "Print the outcome as JSON.")
    var json = false

    func run() throws {
        let collection = try repository.open().collectGarbage(dryRun: dryRun, context: .currentProcess())
        if json { return try printJSON(collection) }
        let verb = dryRun ? "would delete" : "deleted"
        for name in collection.expired {
            printLine("\(dryRun ? "would expire" : "expired") \(name) (unchanged for its template's Expires-After)")
        }
        for path in collection.unreferenced { printLine("\(verb) \(path)") }
        for path in collection.orphaned { printLine("\(verb) \(path) (not recorded in the store)") }
        for path in collection.superseded { printLine("\(verb) \(path) (no Release names it)") }
        for path in collection.kept { printLine("kept \(path) (unreferenced for less than GC-Grace)") }
        for name in collection.incoming { printLine("\(verb) .depot/incoming/\(name) (left by an ended push)") }
        if collection.cachedChunks > 0 {
            printLine("\(verb) \(collection.cachedChunks) cached index chunks no published index uses")
        }
        let count =
            collection.unreferenced.count + collection.orphaned.count + collection.superseded.count
            + collection.incoming.count + collection.cachedChunks
        printLine(
            "\(dryRun ? "would free" : "freed") \(collection.bytes) bytes in \(count) file\(count == 1 ? "" : "s")")
    }
}
