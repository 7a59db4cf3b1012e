cwlVersion: v1.2
$namespaces:
  s: https://schema.org/
s:softwareVersion: 0.0.1
$graph:
  - class: Workflow
    id: bad-type
    label: Bad type
    doc: An input typed with a type CWL does not have (cwltool refuses it)
    inputs:
      count:
        label: count
        doc: how many
        type: integer
    outputs:
      - id: out
        type: Directory
        outputSource: step/out
    steps:
      step:
        run: "#tool"
        in:
          count: count
        out: [out]
  - class: CommandLineTool
    id: tool
    baseCommand: echo
    hints:
      DockerRequirement:
        dockerPull: docker.io/library/alpine:3.20
    inputs:
      count:
        type: int
    outputs:
      out:
        type: Directory
        outputBinding: {glob: .}
