using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Webhooks.Core.Data.Migrations
{
    /// <inheritdoc />
    public partial class OrderedDelivery : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "ordering_key",
                table: "messages",
                type: "text",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "ordering",
                table: "endpoints",
                type: "text",
                nullable: false,
                defaultValue: "none");

            migrationBuilder.AddColumn<string>(
                name: "ordering_key",
                table: "deliveries",
                type: "text",
                nullable: true);

            migrationBuilder.AddColumn<long>(
                name: "ordering_seq",
                table: "deliveries",
                type: "bigint",
                nullable: true);

            migrationBuilder.AddColumn<bool>(
                name: "queued",
                table: "deliveries",
                type: "boolean",
                nullable: false,
                defaultValue: false);

            migrationBuilder.CreateTable(
                name: "ordering_heads",
                columns: table => new
                {
                    endpoint_id = table.Column<string>(type: "text", nullable: false),
                    ordering_key = table.Column<string>(type: "text", nullable: false),
                    next_seq = table.Column<long>(type: "bigint", nullable: false),
                    active_seq = table.Column<long>(type: "bigint", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_ordering_heads", x => new { x.endpoint_id, x.ordering_key });
                    table.ForeignKey(
                        name: "fk_ordering_heads_endpoints_endpoint_id",
                        column: x => x.endpoint_id,
                        principalTable: "endpoints",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "ix_deliveries_ordering",
                table: "deliveries",
                columns: new[] { "endpoint_id", "ordering_key", "ordering_seq" },
                filter: "ordering_seq IS NOT NULL AND status IN ('pending', 'in_flight', 'failed')");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "ordering_heads");

            migrationBuilder.DropIndex(
                name: "ix_deliveries_ordering",
                table: "deliveries");

            migrationBuilder.DropColumn(
                name: "ordering_key",
                table: "messages");

            migrationBuilder.DropColumn(
                name: "ordering",
                table: "endpoints");

            migrationBuilder.DropColumn(
                name: "ordering_key",
                table: "deliveries");

            migrationBuilder.DropColumn(
                name: "ordering_seq",
                table: "deliveries");

            migrationBuilder.DropColumn(
                name: "queued",
                table: "deliveries");
        }
    }
}
