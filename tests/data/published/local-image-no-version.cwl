cwlVersion: v1.2
$graph:
  - class: Workflow
    id: my-notebook
    label: My notebook
    doc: A package built on a laptop, its image never pushed to a registry
    inputs:
      threshold:
        label: threshold
        doc: a threshold
        type: int
        default: 3
    outputs:
      - id: results
        type: Directory
        outputSource: run/results
    steps:
      run:
        run: "#my-notebook-tool"
        in:
          threshold: threshold
        out: [results]
  - class: CommandLineTool
    id: my-notebook-tool
    baseCommand: run-notebook
    requirements:
      DockerRequirement:
        dockerPull: localhost/my-notebook:dev
      ResourceRequirement:
        coresMin: 2
    inputs:
      threshold:
        type: int
        inputBinding: {prefix: --threshold}
    outputs:
      results:
        type: Directory
        outputBinding: {glob: .}
