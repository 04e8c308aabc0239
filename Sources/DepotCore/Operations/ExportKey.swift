import AptRepository
import DebianFormat
import Foundation

extension Repository {
    /// The public signing key, ASCII-armored.
    public func exportKey() throws -> String {
        do {
            return try signer.exportPublicKey()
        } catch {
            throw DepotError.signing(error)
        }
    }
}
