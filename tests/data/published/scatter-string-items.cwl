cwlVersion: v1.2
$namespaces:
  s: https://schema.org/
s:softwareVersion: 0.3.0
s:name: flood-extent
s:description: Flood extent from Sentinel-1 backscatter, one item at a time
s:dateCreated: "2026-10-02"
s:license: https://spdx.org/licenses/Apache-2.0
s:keywords:
  - flood
  - sentinel-1
s:author:
  - class: s:Person
    s:givenName: Ada
    s:familyName: Rivers
    s:email: ada.rivers@example.org
    s:affiliation: Example Hydrology Lab
s:codeRepository: https://example.org/flood-extent
$graph:
  - class: Workflow
    id: flood-extent
    label: Flood extent
    doc: Flood extent mapping over a list of Sentinel-1 STAC items read in place (cloud native)
    requirements:
      ScatterFeatureRequirement: {}
    inputs:
      items:
        label: STAC items
        doc: URLs of Sentinel-1 GRD STAC items
        type: string[]
      polarisations:
        label: polarisations
        doc: polarisations to use
        type: string[]
        default: ["vv", "vh"]
      threshold:
        label: backscatter threshold
        doc: dB value under which a pixel is water
        type: float
        default: -18.5
    outputs:
      - id: results
        type: Directory[]
        outputSource: step_extent/result
    steps:
      step_extent:
        run: "#extent"
        in:
          item: items
          polarisations: polarisations
          threshold: threshold
        out: [result]
        scatter: item
        scatterMethod: dotproduct
  - class: CommandLineTool
    id: extent
    hints:
      DockerRequirement:
        dockerPull: ghcr.io/example-org/flood-extent:0.3.0
    requirements:
      ResourceRequirement:
        coresMax: 2
        ramMax: 4096
      NetworkAccess:
        networkAccess: true
      InlineJavascriptRequirement: {}
    baseCommand: [python, -m, flood_extent]
    arguments: [--out, $(runtime.outdir)]
    inputs:
      item:
        type: string
        inputBinding:
          prefix: --item
      polarisations:
        type:
          type: array
          items: string
          inputBinding:
            prefix: --pol
      threshold:
        type: float
        inputBinding:
          prefix: --threshold
    outputs:
      result:
        type: Directory
        outputBinding:
          glob: .
