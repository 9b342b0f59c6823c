package measure

// ProbeTagAlgorithmByLoad is the loading probe, for comparing it with the
// BTF answer.
var ProbeTagAlgorithmByLoad = probeTagAlgorithmByLoad

// HaveWriteProbe is the write probe's feature test.
var HaveWriteProbe = haveWriteProbe
