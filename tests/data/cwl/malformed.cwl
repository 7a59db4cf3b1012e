cwlVersion: v1.2
$graph:
  - class: Workflow
    id: broken
    inputs:
      scene:
        type: Directory
       label: misindented
    outputs: []
    steps: []
