using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Webhooks.Core.Data.Migrations
{
    /// <inheritdoc />
    public partial class PayloadFilters : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "filter",
                table: "endpoints",
                type: "jsonb",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "filter_path",
                table: "endpoints",
                type: "jsonpath",
                nullable: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "filter",
                table: "endpoints");

            migrationBuilder.DropColumn(
                name: "filter_path",
                table: "endpoints");
        }
    }
}
