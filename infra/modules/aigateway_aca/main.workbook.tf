# The environment's dashboard: an Azure Monitor workbook over the workspace, each tile one query file of
# queries/ (the same files docs/operations.md carries verbatim; tests/infra/test_kql.py checks the fields they
# read against the telemetry contract). Its portal URL is the workbook_url output.

locals {
  workbook_tiles = [
    { title = "Requests per minute by project and route", file = "workbook-requests-per-minute.kql", visualization = "timechart" },
    { title = "Status classes (2xx/4xx/5xx) per 5 minutes", file = "workbook-status-classes.kql", visualization = "barchart" },
    { title = "429s by source: gateway limit vs Azure OpenAI", file = "workbook-throttled-by-source.kql", visualization = "barchart" },
    { title = "Upstream calls, retried requests and failures", file = "workbook-upstream-attempts.kql", visualization = "timechart" },
    { title = "Upstream (Azure) failures by project, model and status", file = "upstream-failures.kql", visualization = "table" },
    { title = "Latency and TTFB percentiles by route", file = "workbook-latency-by-route.kql", visualization = "table" },
    { title = "Tokens in and out by project and model", file = "workbook-tokens.kql", visualization = "table" },
    { title = "Replicas writing logs, per revision", file = "workbook-replicas.kql", visualization = "timechart" },
    { title = "Restarts, crashes and provisioning failures", file = "workbook-restarts.kql", visualization = "barchart" },
  ]

  workbook_json = jsonencode({
    version = "Notebook/1.0"
    items = concat(
      [
        {
          type = 1
          name = "header"
          content = {
            json = "## PVC AI Gateway (${var.env})\nOne JSON line per request (ContainerAppConsoleLogs_CL) and the platform's system events. What each tile means and what to do: docs/operations.md."
          }
        },
        {
          type = 9
          name = "parameters"
          content = {
            version = "KqlParameterItem/1.0"
            style   = "pills"
            parameters = [{
              id         = "8f0c5c3e-4f7a-4c55-9d7e-0d1a7e3b2a10"
              version    = "KqlParameterItem/1.0"
              name       = "TimeRange"
              label      = "Time range"
              type       = 4
              isRequired = true
              value      = { durationMs = 86400000 }
              typeSettings = {
                selectableValues = [for ms in [3600000, 14400000, 86400000, 604800000, 2592000000] : { durationMs = ms }]
              }
            }]
          }
        },
      ],
      [
        for i, tile in local.workbook_tiles : {
          type        = 3
          name        = "tile-${i}"
          customWidth = "50"
          content = {
            version                  = "KqlItem/1.0"
            title                    = tile.title
            query                    = file("${path.module}/queries/${tile.file}")
            size                     = 0
            timeContext              = { durationMs = 86400000 }
            timeContextFromParameter = "TimeRange"
            queryType                = 0
            resourceType             = "microsoft.operationalinsights/workspaces"
            crossComponentResources  = [azurerm_log_analytics_workspace.this.id]
            visualization            = tile.visualization
          }
        }
      ],
    )
    fallbackResourceIds = [azurerm_log_analytics_workspace.this.id]
    "$schema"           = "https://github.com/Microsoft/Application-Insights-Workbooks/blob/master/schema/workbook.json"
  })
}

resource "azurerm_application_insights_workbook" "this" {
  # A workbook's name must be a GUID: derived from the environment's names, so it is stable across applies.
  name                = uuidv5("url", "https://aigateway.pvc/${local.names.workbook}")
  display_name        = "PVC AI Gateway (${var.env})"
  resource_group_name = data.azurerm_resource_group.this.name
  location            = local.location
  category            = "workbook"
  source_id           = lower(azurerm_log_analytics_workspace.this.id)
  data_json           = local.workbook_json
  tags                = local.tags
}
