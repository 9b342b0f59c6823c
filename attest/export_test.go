package attest

// DecodeEnvelope and DecodeStatement expose the readers to the tests that
// compare them with encoding/json.
var (
	DecodeEnvelope  = decodeEnvelope
	DecodeStatement = decodeStatement
)
